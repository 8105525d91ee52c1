from seizure.cli import main

main()
