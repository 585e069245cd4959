"""Sample runs made with the simulated model, loaded by a fresh `repair-tui`."""
