"""The dependency direction tui -> core -> sandbox holds at import time."""

from __future__ import annotations

import subprocess
import sys


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}, pkgutil, importlib\n" \
        f"import {module} as m\n" \
        "for info in pkgutil.walk_packages(m.__path__, m.__name__ + '.'):\n" \
        "    if not info.name.endswith('__main__'):\n" \
        "        importlib.import_module(info.name)\n" \
        "print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_never_imports_textual_or_rich() -> None:
    mods = _modules_after_import("repair_tui.core")
    assert "textual" not in mods
    assert "rich" not in mods
    assert not any(m.startswith("repair_tui.tui") for m in mods)


def test_sandbox_imports_only_the_standard_library() -> None:
    mods = _modules_after_import("repair_tui.sandbox")
    ours = {m for m in mods if m.startswith("repair_tui.") and not m.startswith("repair_tui.sandbox")}
    assert ours == set()
    for third_party in ("numpy", "sqlite_utils", "openai", "textual", "rich"):
        assert third_party not in mods


def test_a_run_and_the_store_start_without_numpy() -> None:
    """`repair-tui run` and every store read load no numpy (0.13 s of CPU and 13 MiB
    at each start): neither through the estimator's data classes nor through
    sqlite-utils, which imports numpy (and pandas) when installed. The estimator still
    gets numpy when it needs it, and sqlite-utils still works."""
    code = (
        "import sys\n"
        "import repair_tui.core.engine.run, repair_tui.tui.cli.run_cmd, repair_tui.core.store.store\n"
        "print('numpy' in sys.modules, 'pandas' in sys.modules)\n"
        "import sqlite_utils, numpy\n"
        "from repair_tui.core.estimate import exact\n"
        "db = sqlite_utils.Database(memory=True)\n"
        "db['t'].insert({'a': 1})\n"
        "print(db.execute('select a from t').fetchone()[0], exact.np is numpy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "1", "True"]
