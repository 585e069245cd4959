"""repair_tui.core.store.store: the SQLite store: its connection, migrations, record types,
writes (store), reads (reads) and what the reads return (views).

May import datasets, estimate and the sandbox's result types; never engine, llm, sim or formats.
"""
