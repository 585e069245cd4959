"""Textual screens of the repair-tui app."""
