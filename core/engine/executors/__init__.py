"""repair_tui.core.engine.executors: where programs execute. ``local`` is the sandbox's
fork server on this machine; ``ray`` is one sandbox per Ray node, held by an actor.

Imports the sandbox's public API; Ray only when the ray executor is made.
"""

from __future__ import annotations

from repair_tui.core.engine.executors.base import EXECUTORS, Executor, slots_for
from repair_tui.core.engine.executors.factory import make_executor
from repair_tui.core.engine.executors.local import LocalExecutor

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "make_executor", "slots_for"]
