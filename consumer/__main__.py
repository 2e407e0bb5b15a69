from consumer.main import main

main()
