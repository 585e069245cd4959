"""sqlite-utils, imported without the numpy and pandas it would load as a side effect.

``sqlite_utils.db`` imports pandas and numpy when they are installed, only to map their
scalar types to column types when ``insert`` infers a table's columns. The store never
inserts such values (its tables come from migrations), and numpy alone cost every
command and the app about 0.13 s of CPU and 13 MiB at start (pandas, where installed,
costs more). They are hidden while sqlite_utils loads, and importable as usual right
after: the estimator imports numpy when it needs it.
"""

from __future__ import annotations

import sys

_HIDDEN = ("numpy", "pandas")


def _load() -> None:
    hidden = [name for name in _HIDDEN if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import sqlite_utils.db  # noqa: F401
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


_load()

from sqlite_utils import Database  # noqa: E402
from sqlite_utils.migrations import Migrations  # noqa: E402

__all__ = ["Database", "Migrations"]
