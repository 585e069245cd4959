"""repair_tui.tui: the Textual app and the `repair-tui` command line."""
