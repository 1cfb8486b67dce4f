from convene_notifications.app import main

main()
