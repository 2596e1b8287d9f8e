from ftadvisor.cli import main

main()
