"""repair_tui.sandbox: runs untrusted programs against unit tests, contained.

Imports only the standard library; knows nothing of models or SQLite.
"""
