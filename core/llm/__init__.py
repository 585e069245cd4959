"""repair_tui.core.llm.client: talking to language models: the model protocol and the
OpenAI-compatible client, prompts, code extraction and token counting.

May import datasets; never store, engine, sim, formats or estimate.
"""
