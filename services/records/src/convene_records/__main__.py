from convene_records.app import main

main()
