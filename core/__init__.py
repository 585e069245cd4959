"""repair_tui.core: the self-repair engine and everything under it, one subpackage a part:
engine, store, llm, sim, estimate, datasets, formats (plus errors, paths and models).

Knows nothing of Textual or rich; reports progress as plain events (engine/events.py).
"""
