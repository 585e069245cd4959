"""repair_tui.core.sim.model: the simulated models (model, with its bug planting, diffing and
feedback) and serve-sim's OpenAI-compatible HTTP server (server).

May import llm and datasets; never store, engine, formats or estimate.
"""
