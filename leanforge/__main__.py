from leanforge.cli import main

main()
