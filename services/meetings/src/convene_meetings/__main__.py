from convene_meetings.app import main

main()
