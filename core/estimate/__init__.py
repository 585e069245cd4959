"""repair_tui.core.estimate: pass@t from frozen repair trees: the exact kernel, the
per-task estimates, grids, repair levels, the Monte Carlo cross-check and plots.

Pure functions on arrays: imports nothing of store, engine, llm, sim, formats or datasets.
"""
