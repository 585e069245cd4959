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
