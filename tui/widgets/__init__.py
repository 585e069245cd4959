"""Textual widgets of the repair-tui app."""
