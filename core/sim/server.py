"""An OpenAI-compatible HTTP server for the simulated models (``repair-tui serve-sim``).

Endpoints: ``POST /v1/chat/completions`` (n, temperature, max_tokens or
max_completion_tokens, stop, seed; answers with choices, finish_reason and usage) and
``GET /v1/models`` (sim, sim-weak, sim-strong). Errors use OpenAI's body shape
``{"error": {"message", "type", "param", "code"}}``: 404 ``model_not_found`` for an
unknown model, 401 ``invalid_api_key`` when the server has a key and the request lacks
it, 400 for a malformed request.

Injected faults, for testing clients: with ``fault_rate`` F, each request is hit with
probability F by one of ``429`` (with ``Retry-After``), ``500``, ``slow`` (answers
after ``slow_seconds``) or ``malformed`` (a 200 whose JSON body is cut off). The draw
is a hash of (fault seed, request body, how many times that body was seen), so a run
with the same requests sees the same faults regardless of thread timing. Tests can
script faults exactly with ``fault_plan`` (one entry per request, ``"ok"`` for none).

Standard library only (ThreadingHTTPServer); `start_sim_server` runs it in a
background thread for tests.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from repair_tui.core.datasets.task import Task
from repair_tui.core.llm.client import SIM_NAMES, Usage
from repair_tui.core.sim.model import SimModel, completion_body, prompt_tokens
from repair_tui.core.sim.tasks import TaskIndex, unit_hash

FAULT_KINDS = ("429", "500", "slow", "malformed")


@dataclass(frozen=True)
class ServerConfig:
    """What the server injects and checks."""

    latency: float = 0.0  # seconds added to every answer
    fault_rate: float = 0.0
    fault_seed: int = 0
    faults: tuple[str, ...] = FAULT_KINDS
    fault_plan: tuple[str, ...] = ()  # scripted faults for the first requests, then none
    retry_after: float = 1.0  # seconds, sent with injected 429s
    slow_seconds: float = 5.0
    api_key: str | None = None
    ignore_n: bool = False  # answer one choice whatever n says, like Ollama
    verbose: bool = False


@dataclass
class _Counters:
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)


class SimHTTPServer(ThreadingHTTPServer):
    """The threaded server holding the models, the config and the fault state."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], config: ServerConfig, index: TaskIndex) -> None:
        super().__init__(address, _Handler)
        self.config = config
        self.models = {name: SimModel(name, index=index) for name in SIM_NAMES}
        self.counters = _Counters()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def pick_fault(self, body: bytes) -> str | None:
        """The fault for this request, or None (see the module docstring)."""
        cfg = self.config
        with self.lock:
            index = self.counters.requests
            self.counters.requests += 1
            digest = hashlib.sha256(body).hexdigest()
            seen = self.counters.seen.get(digest, 0)
            self.counters.seen[digest] = seen + 1
            fault: str | None = None
            if index < len(cfg.fault_plan):
                fault = None if cfg.fault_plan[index] == "ok" else cfg.fault_plan[index]
            elif cfg.faults and unit_hash("fault", cfg.fault_seed, digest, seen) < cfg.fault_rate:
                pick = unit_hash("kind", cfg.fault_seed, digest, seen)
                fault = cfg.faults[int(pick * len(cfg.faults))]
            if fault:
                self.counters.faults[fault] = self.counters.faults.get(fault, 0) + 1
            return fault

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (after a timeout) is normal here, not worth a traceback.
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: SimHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive: clients pool connections
    # Headers and body go out in two writes: without this, Nagle's algorithm holds the
    # body back for the client's delayed ACK (about 40 ms a call).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.config.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            if not self._authorised():
                return
            data = [{"id": n, "object": "model", "created": 0, "owned_by": "repair-tui (simulated)"}
                    for n in self.server.models]
            self._json(200, {"object": "list", "data": data})
        elif path in ("", "/health", "/v1"):
            self._json(200, {"status": "ok", "simulated": True})
        else:
            self._error(404, f"no route for GET {self.path}", "invalid_request_error", "not_found")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        path = self.path.split("?")[0].rstrip("/")
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"no route for POST {self.path}", "invalid_request_error", "not_found")
            return
        if not self._authorised():
            return
        try:
            request = json.loads(raw or b"null")
        except ValueError:
            self._error(400, "the request body is not valid JSON", "invalid_request_error", None)
            return
        problem = _check_request(request, self.server.models)
        if problem is not None:
            status, message, param, code = problem
            self._error(status, message, "invalid_request_error", code, param)
            return
        self._answer(request, self.server.pick_fault(raw))

    def _authorised(self) -> bool:
        key = self.server.config.api_key
        if key is None:
            return True
        given = self.headers.get("Authorization", "")
        if given == f"Bearer {key}":
            return True
        self._error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        return False

    def _answer(self, request: dict[str, Any], fault: str | None) -> None:
        cfg = self.server.config
        if fault == "429":
            headers = {"Retry-After": _seconds(cfg.retry_after)}
            self._error(429, "Rate limit reached (simulated).", "rate_limit_error",
                        "rate_limit_exceeded", headers=headers)
            return
        if fault == "500":
            self._error(500, "The server had an error (simulated).", "server_error", None)
            return
        if fault == "slow" and self.server.stopping.wait(cfg.slow_seconds):
            return
        if cfg.latency > 0 and self.server.stopping.wait(cfg.latency):
            return
        if fault == "malformed":
            self._send(200, b'{"id": "chatcmpl-sim", "object": "chat.completion", "choices": [{"ind',
                       {"Content-Type": "application/json"})
            return
        self._json(200, _complete(self.server.models[request["model"]], request, cfg))

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self._send(status, data, {"Content-Type": "application/json", **(headers or {})})

    def _error(self, status: int, message: str, kind: str, code: str | None,
               param: str | None = None, headers: dict[str, str] | None = None) -> None:
        body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
        self._json(status, body, headers)

    def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (ConnectionError, TimeoutError):
            self.close_connection = True


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _check_request(
    request: object, models: dict[str, SimModel]
) -> tuple[int, str, str | None, str | None] | None:
    """(status, message, param, code) for a bad request, else None."""
    if not isinstance(request, dict):
        return 400, "the request body must be a JSON object", None, None
    model = request.get("model")
    if model not in models:
        return (404, f"The model `{model}` does not exist (this server has {', '.join(models)}).",
                "model", "model_not_found")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages or not all(
        isinstance(m, dict) and isinstance(m.get("content", ""), str) for m in messages
    ):
        return 400, "'messages' must be a non-empty list of {role, content} objects", "messages", None
    n = request.get("n", 1)
    if n is not None and (not isinstance(n, int) or not 1 <= n <= 128):
        return 400, "'n' must be an integer from 1 to 128", "n", None
    return None


def _complete(model: SimModel, request: dict[str, Any], cfg: ServerConfig) -> dict[str, Any]:
    n = 1 if cfg.ignore_n else int(request.get("n") or 1)
    stop = request.get("stop")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    limit = request.get("max_completion_tokens") or request.get("max_tokens") or 4096
    temperature = request.get("temperature")
    seed = request.get("seed")
    messages = [{"role": str(m.get("role", "")), "content": str(m.get("content") or "")}
                for m in request["messages"]]
    completions = model.answer(
        messages,
        n=n,
        temperature=1.0 if temperature is None else float(temperature),
        max_tokens=int(limit),
        stop=stops,
        seed=seed if isinstance(seed, int) else None,
    )
    usage = Usage(prompt_tokens(messages), sum(c.tokens for c in completions))
    body: dict[str, Any] = completion_body(model.name, completions, usage, seed=seed)
    return body


class SimServerHandle:
    """A running server: ``base_url`` like ``http://127.0.0.1:PORT/v1``; `stop()` ends it."""

    def __init__(self, server: SimHTTPServer) -> None:
        self.server = server
        address = server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        self.base_url = f"{self.url}/v1"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="sim-server", daemon=True)
        self._thread.start()

    @property
    def requests(self) -> int:
        """Requests to /v1/chat/completions so far."""
        return self.server.counters.requests

    @property
    def faults(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        return dict(self.server.counters.faults)

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread.is_alive():
            self.server.stopping.set()
            self.server.shutdown()
            self._thread.join(timeout=5)
        self.server.server_close()

    def __enter__(self) -> SimServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sim_server(
    host: str = "127.0.0.1",
    port: int = 0,
    latency: float = 0.0,
    fault_rate: float = 0.0,
    *,
    fault_seed: int = 0,
    faults: Sequence[str] = FAULT_KINDS,
    fault_plan: Sequence[str] = (),
    retry_after: float = 1.0,
    slow_seconds: float = 5.0,
    api_key: str | None = None,
    ignore_n: bool = False,
    tasks: Iterable[Task] = (),
    load_datasets: bool = True,
    verbose: bool = False,
) -> SimServerHandle:
    """Serve the simulated models in a background thread (port 0: any free port).

    `tasks` are registered in addition to the shipped datasets (loaded on the first
    unknown spec unless `load_datasets` is False).
    """
    for kind in [*faults, *fault_plan]:
        if kind not in (*FAULT_KINDS, "ok"):
            raise ValueError(f"unknown fault {kind!r}: use {', '.join(FAULT_KINDS)}")
    if not 0.0 <= fault_rate <= 1.0 or math.isnan(fault_rate):
        raise ValueError(f"fault rate must be between 0 and 1, not {fault_rate}")
    config = ServerConfig(
        latency=latency, fault_rate=fault_rate, fault_seed=fault_seed, faults=tuple(faults),
        fault_plan=tuple(fault_plan), retry_after=retry_after, slow_seconds=slow_seconds,
        api_key=api_key, ignore_n=ignore_n, verbose=verbose,
    )
    index = TaskIndex(tasks, load_datasets=load_datasets)
    return SimServerHandle(SimHTTPServer((host, port), config, index))


def wait_forever(handle: SimServerHandle) -> None:
    """Block until interrupted (Ctrl-C), then stop the server."""
    try:
        while True:
            time.sleep(3600)
    finally:
        handle.stop()
