"""repair_tui.core.formats: runs as files: the paper's format and our JSONL, export and
import, and the line-level reading and writing they share.

May import store and datasets; never engine, llm or sim.
"""
