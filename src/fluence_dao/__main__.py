from fluence_dao.cli.main import main

main()
