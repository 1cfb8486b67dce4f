from convene_booking_pages.app import main

main()
