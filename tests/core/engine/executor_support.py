"""Helpers for the executor tests: a run's export with what may differ between two
executions of the same run removed (times, durations, where each program ran)."""

from __future__ import annotations

import io
import json
from typing import Any

from repair_tui.core.formats.jsonl import export_jsonl
from repair_tui.core.store.store import Store

VOLATILE = {"created_utc", "executed_utc", "duration", "latency", "updated_utc", "created"}


def comparable_export(store: Store, name: str) -> list[dict[str, Any]]:
    """The run's JSONL export, sorted by key, without timestamps, durations, the run's name, where it ran
    and which node ran each program: what the same run with any executor must share."""
    out = io.StringIO()
    export_jsonl(store, store.get_run(name), out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    header = lines[0]["run"]
    for key in ("name", "created_utc"):
        header.pop(key, None)
    for key in ("executor", "ray_address"):
        header["config"].pop(key, None)
    for line in lines[1:]:
        _strip(line)
    # Calls and nodes are written in the order they were stored, which timing decides.
    return [lines[0], *sorted(lines[1:], key=lambda r: (r["type"], r.get("key") or r.get("id")))]


def _strip(value: Any) -> None:
    if isinstance(value, dict):
        for key in VOLATILE & value.keys():
            del value[key]
        extra = value.get("extra")
        if isinstance(extra, dict):
            extra.pop("ray_node", None)
        for item in value.values():
            _strip(item)
    elif isinstance(value, list):
        for item in value:
            _strip(item)
