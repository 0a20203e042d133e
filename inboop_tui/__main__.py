from inboop_tui.cli import main

main()
