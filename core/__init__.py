"""repair_tui.core: the self-repair engine, models, prompts, store and estimator.

Knows nothing of Textual or rich; reports progress as plain events (events.py).
"""
