"""Run files line by line: opening (gzip or not), reading JSON lines, detecting the
format, and writing exports atomically.

Both formats (core/formats/paper.py, core/formats/jsonl.py) are JSON lines and may be
gzip-compressed (detected by content on import, by a ``.gz`` suffix on export). Every
problem in an input file is a UserError naming the file and line.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TextIO

from repair_tui.core.errors import UserError

JSONL_MAGIC = "repair-tui-run"


def open_text(path: Path) -> IO[str]:
    """Open a UTF-8 text file for reading, gunzipping it when it is gzip data."""
    try:
        with path.open("rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
        if gz:
            return gzip.open(path, "rt", encoding="utf-8")
        return path.open(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc


def json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; UserError on anything else."""
    lineno = 0
    try:
        with open_text(path) as f:
            for lineno, text in enumerate(f, start=1):
                if text.strip():
                    yield lineno, parse_object(path, lineno, text)
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}:{lineno + 1}: not UTF-8 text") from exc
    except (OSError, EOFError) as exc:
        raise UserError(f"{path}:{lineno + 1}: cannot read: {exc}") from exc


def parse_object(path: Path, lineno: int, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # Some messages end in "at" already ("Unterminated string starting at").
        where = "column" if exc.msg.endswith(" at") else "at column"
        raise UserError(f"{path}:{lineno}: not valid JSON ({exc.msg} {where} {exc.colno})") from exc
    if not isinstance(value, dict):
        raise UserError(f"{path}:{lineno}: expected a JSON object, found {type(value).__name__}")
    return value


def detect_format(path: Path) -> str:
    """``jsonl`` if the first object is our header, ``paper`` if it has ``completions``."""
    for lineno, obj in json_lines(path):
        if obj.get("format") == JSONL_MAGIC:
            return "jsonl"
        if "completions" in obj and ("task_id" in obj or "prob_path" in obj):
            return "paper"
        raise UserError(
            f"{path}:{lineno}: neither a repair-tui export (no \"format\": \"{JSONL_MAGIC}\") "
            "nor the paper's format (no task_id/prob_path with completions)"
        )
    raise UserError(f"{path}: the file is empty")


def dump_line(obj: Any) -> str:
    """One JSON line as both exporters write it (UTF-8 kept, no trailing spaces)."""
    return json.dumps(obj, ensure_ascii=False) + "\n"


@contextmanager
def output(path: str | Path | None) -> Iterator[TextIO]:
    """A text stream for an export: stdout when None, else the file (gzip for ``.gz``).

    The file is written next to its destination and renamed at the end, so a failed
    export never leaves a truncated file behind.
    """
    if path is None or str(path) == "-":
        out = sys.stdout
        if (out.encoding or "").lower().replace("-", "") == "utf8" or not hasattr(out, "buffer"):
            yield out
            out.flush()
            return
        # JSON lines are UTF-8 whatever the locale says.
        out.flush()
        stream = io.TextIOWrapper(out.buffer, encoding="utf-8", write_through=True)
        try:
            yield stream
        finally:
            stream.flush()
            stream.detach()
        return
    target = Path(path).expanduser()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror or exc}") from exc
    os.close(fd)
    try:
        if target.suffix == ".gz":
            with gzip.open(tmp, "wt", encoding="utf-8") as gz:
                yield gz
        else:
            with open(tmp, "w", encoding="utf-8") as f:
                yield f
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def describe(value: Any, limit: int = 40) -> str:
    """A short one-line rendering of a bad value for an error message."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
