"""Save the README's screenshots (SVG, as Textual renders them) from the sample runs.

    python docs/screenshots.py [OUT_DIR]     # default: docs/img

Opens the real app on a fresh database (which imports the bundled sample runs) at
150x42 and steps through the Runs, Run and Task screens and the annotation queue.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from repair_tui.tui.app import RepairApp

SIZE = (150, 42)


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = RepairApp(Path(tmp) / "screens.db")
        async with app.run_test(size=SIZE) as pilot:
            await app.workers.wait_for_complete()
            for _ in range(50):  # the samples import in the background
                await pilot.pause(0.1)
                app.poll_data()
                if len(app.store.list_runs()) >= 3:
                    break
            await pilot.pause(0.5)
            app.save_screenshot(str(out / "runs.svg"))
            await pilot.press("down", "down", "enter")  # the separate-mode HumanEval run
            await pilot.pause(2.0)
            await app.workers.wait_for_complete()
            await pilot.pause(0.5)
            app.save_screenshot(str(out / "run.svg"))
            await pilot.press("enter")  # its first task
            await pilot.pause(1.0)
            await pilot.press("n")  # its first failing program
            await pilot.pause(0.3)
            await pilot.press("down", "down")  # its feedback, then the repair from it
            await pilot.pause(0.5)
            app.save_screenshot(str(out / "task.svg"))
            await pilot.press("escape")
            await pilot.pause(0.3)
            await pilot.press("a")
            await pilot.pause(1.0)
            app.save_screenshot(str(out / "annotate.svg"))
    print("wrote", ", ".join(str(out / f"{n}.svg") for n in ("runs", "run", "task", "annotate")))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "img"))
