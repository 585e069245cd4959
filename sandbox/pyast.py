"""Python's ``ast`` from many threads at once, safely.

On CPython 3.11 two threads converting between source, C-level trees and ``ast``
objects at the same moment can corrupt a shared recursion counter and raise
``SystemError: AST constructor recursion depth mismatch``. Every part of this project
that runs in a threaded process (the caller of the sandbox, serve-sim's request
threads, the engine and the app) parses and compiles trees through these functions,
which hold one process-wide lock. Plain ``compile(str)`` to code needs no lock.
"""

from __future__ import annotations

import _thread
import ast
from types import CodeType

__all__ = ["compile_tree", "parse"]

# _thread, not threading: the fork server imports this module and must not import
# threading (its fork hooks).
_LOCK = _thread.allocate_lock()


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source, filename)`` under the process-wide lock."""
    with _LOCK:
        return ast.parse(source, filename)


def compile_tree(tree: ast.Module, filename: str) -> CodeType:
    """``compile(tree, filename, "exec", dont_inherit=True)`` under the same lock."""
    with _LOCK:
        code: CodeType = compile(tree, filename, "exec", dont_inherit=True)
        return code
