from convene_calendar_sync.app import main

main()
