"""repair_tui.core.engine.steps: the self-repair steps on one run (steps), whole runs (run),
the priority pool for model calls (pool) and the progress events (events).

May import every other part of core, and the sandbox; nothing imports it but the TUI.
"""
