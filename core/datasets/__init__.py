"""repair_tui.core.datasets: tasks and where they come from: HumanEval, APPS (folder or
JSONL), our JSONL, and checking tasks' reference solutions.

May import the sandbox (for test forms); nothing else of core but errors.
"""
