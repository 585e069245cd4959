"""Runs as files: export a stored run, or import a file as a new run, in either format.

``paper`` is the JSON lines released with Olausson et al. (core/formats/paper.py);
``jsonl`` is our own full tree (core/formats/jsonl.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from repair_tui.core.errors import UserError
from repair_tui.core.formats.jsonl import export_jsonl, import_jsonl
from repair_tui.core.formats.lines import detect_format
from repair_tui.core.formats.paper import export_paper, import_paper
from repair_tui.core.store.records import Run
from repair_tui.core.store.store import Store

__all__ = ["FORMATS", "export_run", "import_run"]

FORMATS = ("paper", "jsonl")


def export_run(store: Store, run: Run, fmt: str, out: TextIO) -> int:
    """Write ``run`` to ``out`` in ``fmt`` (paper or jsonl). Returns the lines written."""
    if fmt == "paper":
        return int(export_paper(store, run, out))
    if fmt == "jsonl":
        return int(export_jsonl(store, run, out))
    raise UserError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")


def import_run(
    store: Store,
    path: str | Path,
    name: str,
    fmt: str = "auto",
    *,
    model: str = "unknown",
    feedback_model: str | None = None,
) -> Run:
    """Import a file as a new run named ``name``: all of it, or nothing (one transaction).

    ``fmt`` is paper, jsonl or auto (detected from the first line). ``model`` and
    ``feedback_model`` label a paper import (the paper's files do not name models).
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise UserError(f"cannot read {source}: no such file")
    if store.find_run(name) is not None:
        raise UserError(f"a run named {name!r} already exists in {store.label}; choose another --name")
    kind = detect_format(source) if fmt == "auto" else fmt
    if kind == "paper":
        return import_paper(store, source, name, model=model, feedback_model=feedback_model)
    if kind == "jsonl":
        return import_jsonl(store, source, name)
    raise UserError(f"unknown import format {fmt!r}; use paper, jsonl or auto")
