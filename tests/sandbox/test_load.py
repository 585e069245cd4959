"""Verdicts do not depend on machine load: time limits count CPU time.

A program that needs 0.6 s of CPU passes a 1.5 s limit on a quiet machine and still
passes when eight copies run at once on this machine's cores next to CPU burners
(each copy then takes several times as long in wall-clock time); one that needs more
CPU than its limit times out in both cases.
"""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest
from repair_tui.sandbox import Limits, Sandbox, Status

pytestmark = pytest.mark.slow

LIMITS = Limits(timeout=1.5, min_timeout=0.1)


def busy(seconds: float) -> str:
    """A program that prints 1 after using ``seconds`` of CPU time (whatever the load)."""
    return f"import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end:\n    pass\nprint(1)\n"


TESTS = {"style": "stdio", "cases": [{"input": "", "output": "1"}]}


def _burn(stop_at: float) -> None:
    while time.monotonic() < stop_at:
        pass


def test_verdicts_under_load_equal_those_on_a_quiet_machine() -> None:
    programs = [busy(0.6), busy(3.0)]
    with Sandbox(limits=LIMITS, workers=1) as quiet:
        alone = [[r.status for r in v.results] for v in quiet.run_many([(p, TESTS) for p in programs])]
    assert alone == [[Status.PASSED], [Status.TIMEOUT]]
    cores = os.cpu_count() or 1
    burners = [multiprocessing.get_context("spawn").Process(target=_burn, args=(time.monotonic() + 60,))
               for _ in range(2 * cores)]
    for burner in burners:
        burner.start()
    try:
        with Sandbox(limits=LIMITS, workers=4 * cores) as loaded:
            items = [(p, TESTS) for p in programs for _ in range(4 * cores // 2)]
            verdicts = loaded.run_many(items)
    finally:
        for burner in burners:
            burner.kill()
            burner.join()
    under_load = [[r.status for r in v.results] for v in verdicts]
    assert under_load == [alone[0]] * (4 * cores // 2) + [alone[1]] * (4 * cores // 2)
    # and the load was real: the passing copies took longer in wall-clock time than their limit
    assert max(v.results[0].duration for v in verdicts[: 4 * cores // 2]) > LIMITS.timeout
