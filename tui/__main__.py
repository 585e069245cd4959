"""`python -m repair_tui.tui` is the same as `repair-tui`."""

from __future__ import annotations

import sys

from repair_tui.tui.cli import main

if __name__ == "__main__":
    sys.exit(main())
