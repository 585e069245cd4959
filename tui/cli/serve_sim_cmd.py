"""`repair-tui serve-sim`: serve the simulated models over an OpenAI-compatible HTTP API.

Any OpenAI-compatible client can then use ``sim``, ``sim-weak`` and ``sim-strong`` at
the printed base URL (``http://HOST:PORT/v1``), with optional latency and injected
faults to exercise retries. Stops on Ctrl-C (exit 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

_FAULTS = ("429", "500", "slow", "malformed")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve-sim",
        help="serve the simulated models as an OpenAI-compatible API",
        description="Serve the simulated models sim, sim-weak and sim-strong (deterministic "
        "stand-ins for code LLMs, not real models) at POST /v1/chat/completions and "
        "GET /v1/models. Point any OpenAI-compatible client at the printed base URL.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8000, help="port (default 8000; 0 picks a free port)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="S", help="seconds added to every answer"
    )
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, metavar="F",
        help="fraction of requests that get an injected fault (0 to 1)",
    )
    parser.add_argument(
        "--fault-seed", type=int, default=0, metavar="N",
        help="seed of the fault draws (same seed and requests: same faults)",
    )
    parser.add_argument(
        "--faults", default=",".join(_FAULTS), metavar="KINDS",
        help="comma-separated fault kinds to inject: 429, 500, slow, malformed (default all)",
    )
    parser.add_argument(
        "--retry-after", type=float, default=1.0, metavar="S",
        help="Retry-After seconds sent with injected 429s (default 1)",
    )
    parser.add_argument(
        "--slow-seconds", type=float, default=5.0, metavar="S",
        help="delay of an injected slow answer (default 5)",
    )
    parser.add_argument("--api-key", metavar="K", help="require this key (Authorization: Bearer K)")
    parser.add_argument(
        "--ignore-n", action="store_true",
        help="answer one choice per request whatever n asks (like Ollama)",
    )
    parser.add_argument(
        "--dataset", action="append", default=[], metavar="REF",
        help="also know the tasks of this dataset (repeatable; humaneval and apps-sample "
        "are always known)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from repair_tui.core.datasets.load import load_dataset
    from repair_tui.core.errors import UserError
    from repair_tui.core.sim.server import start_sim_server, wait_forever

    faults = [f.strip() for f in str(args.faults).split(",") if f.strip()]
    unknown = [f for f in faults if f not in _FAULTS]
    if unknown:
        raise UserError(f"--faults: unknown kind {unknown[0]!r}; use {', '.join(_FAULTS)}")
    if not 0.0 <= args.fault_rate <= 1.0:
        raise UserError(f"--fault-rate must be between 0 and 1, not {args.fault_rate}")
    if args.latency < 0 or args.slow_seconds < 0 or args.retry_after < 0:
        raise UserError("--latency, --slow-seconds and --retry-after must not be negative")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, not {args.port}")
    tasks = [task for ref in args.dataset for task in load_dataset(ref)]
    try:
        handle = start_sim_server(
            args.host, args.port, args.latency, args.fault_rate,
            fault_seed=args.fault_seed, faults=faults, retry_after=args.retry_after,
            slow_seconds=args.slow_seconds, api_key=args.api_key, ignore_n=args.ignore_n,
            tasks=tasks, verbose=args.verbose,
        )
    except OSError as exc:
        raise UserError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
            "choose another --port (0 picks a free one)"
        ) from None
    extra = f"; faults: {args.fault_rate:g} of requests ({', '.join(faults)})" if args.fault_rate else ""
    key = "the key given with --api-key" if args.api_key else "any API key"
    # Handlers first: whoever reads the URL below may signal us at once.
    previous = _stop_on_signals()
    try:
        print("Serving the simulated models sim, sim-weak, sim-strong (simulated, not real LLMs)")
        print(f"base URL: {handle.base_url}")
        print(f"Use {key}{extra}. Press Ctrl-C to stop.", flush=True)
        wait_forever(handle)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> dict[signal.Signals, Any]:
    """Stop cleanly on Ctrl-C and on SIGTERM, even when started in the background
    (where a shell may have set SIGINT to be ignored)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
