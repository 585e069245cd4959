"""Making an executor by name, as the command line's ``--executor`` and ``--ray-address``
say."""

from __future__ import annotations

import os

from repair_tui.core.engine.executors.base import EXECUTORS, Executor, slots_for
from repair_tui.core.engine.executors.local import LocalExecutor
from repair_tui.core.errors import UserError
from repair_tui.sandbox.result import Limits


def make_executor(name: str, *, address: str | None = None, limits: Limits | None = None,
                  workers: int | None = None) -> Executor:
    """The executor called ``name``. ``address`` is the Ray cluster's (None: start a
    local Ray instance; ``auto``: join the one running here). ``workers`` overrides the
    sandbox slots (local: of this machine; ray: of each node)."""
    if name == "local":
        if address is not None:
            raise UserError("--ray-address needs --executor ray")
        local: Executor = LocalExecutor(limits=limits, workers=workers or slots_for(os.cpu_count() or 1))
        return local
    if name == "ray":
        from repair_tui.core.engine.executors.cluster import RayExecutor  # Ray is optional

        on_ray: Executor = RayExecutor(address, limits=limits, workers_per_node=workers)
        return on_ray
    raise UserError(f"--executor must be one of {', '.join(EXECUTORS)}, not {name!r}")
