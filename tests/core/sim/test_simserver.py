"""The real OpenAI client (and the plain openai package) against serve-sim on 127.0.0.1.

Every client test runs three times: through the openai SDK over the keep-alive
transport that plain http:// servers get by default, through the SDK over httpx's own
transport (https endpoints, proxies), and through the opt-in lean client."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import cache
from typing import Any

import openai
import pytest
from repair_tui.core.datasets.load import load_dataset
from repair_tui.core.datasets.task import Task
from repair_tui.core.errors import ModelError
from repair_tui.core.llm import prompts
from repair_tui.core.llm.client import OpenAIModel
from repair_tui.core.llm.tokens import count_tokens
from repair_tui.core.sim.server import SimServerHandle, start_sim_server


@cache
def tasks() -> tuple[Task, ...]:
    return tuple(load_dataset("humaneval", limit=5))


def serve(**kwargs: Any) -> SimServerHandle:
    return start_sim_server(tasks=tasks(), load_datasets=False, **kwargs)


@pytest.fixture
def server() -> Iterator[SimServerHandle]:
    with serve() as handle:
        yield handle


class Sleeps:
    """Records the waits the client asks for instead of waiting (no timing in tests)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


TRANSPORT = {"name": "lean"}


@pytest.fixture(autouse=True, params=["lean", "sdk", "httpx"])
def transport(request: pytest.FixtureRequest) -> Iterator[str]:
    TRANSPORT["name"] = request.param
    yield request.param
    TRANSPORT["name"] = "lean"


def client(handle: SimServerHandle, name: str = "sim", **kwargs: Any) -> OpenAIModel:
    return OpenAIModel(name, base_url=handle.base_url, transport=TRANSPORT["name"], **kwargs)


async def generate(m: OpenAIModel, n: int = 1, seed: int | None = 1, **kw: Any) -> Any:
    try:
        return await m.complete(prompts.generate_messages(tasks()[1]), n=n, seed=seed, **kw)
    finally:
        await m.aclose()


def post(handle: SimServerHandle, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(
        handle.base_url + "/chat/completions", data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


async def test_n_choices_in_one_request(server: SimServerHandle) -> None:
    reply = await generate(client(server), n=4)
    assert len(reply.completions) == 4 and reply.requests == 1 and reply.retries == 0
    assert [c.tokens for c in reply.completions] == [count_tokens(c.text) for c in reply.completions]
    assert reply.usage.completion_tokens == sum(c.tokens for c in reply.completions)
    assert reply.raw[0]["object"] == "chat.completion" and reply.raw[0]["simulated"] is True
    assert all(c.finish_reason == "stop" for c in reply.completions)


async def test_one_choice_uses_the_servers_token_count(server: SimServerHandle) -> None:
    reply = await generate(client(server), n=1)
    assert reply.completions[0].tokens == reply.raw[0]["usage"]["completion_tokens"]


async def test_max_tokens_and_stop_reach_the_server(server: SimServerHandle) -> None:
    reply = await generate(client(server, "sim-strong"), n=2, max_tokens=7)
    assert all(c.finish_reason == "length" and c.tokens <= 7 for c in reply.completions)
    stopped = await generate(client(server), n=1, stop=["```"])
    assert "```" not in stopped.completions[0].text


async def test_servers_that_ignore_n_get_the_rest_in_more_requests() -> None:
    with serve(ignore_n=True) as handle:
        reply = await generate(client(handle), n=3, seed=5)
        assert len(reply.completions) == 3 and reply.requests == 3
        assert handle.requests == 3
        ids = [body["id"] for body in reply.raw]
        assert len(set(ids)) >= 2  # extra requests use other seeds, so answers differ
        again = await generate(client(handle), n=3, seed=5)
        assert [c.text for c in again.completions] == [c.text for c in reply.completions]


@pytest.mark.parametrize("fault", ["429", "500", "malformed"])
async def test_each_fault_is_retried(fault: str) -> None:
    sleeps = Sleeps()
    with serve(fault_plan=[fault, "ok"], retry_after=2) as handle:
        reply = await generate(client(handle, sleep=sleeps, backoff=0.5), n=2)
        assert len(reply.completions) == 2 and reply.retries == 1
        assert handle.faults == {fault: 1} and handle.requests == 2
    assert len(sleeps.delays) == 1
    if fault == "429":
        assert sleeps.delays[0] >= 2.0  # Retry-After honoured
    else:
        assert 0.25 <= sleeps.delays[0] <= 0.5  # first backoff step, with jitter


async def test_a_slow_answer_times_out_and_is_retried() -> None:
    sleeps = Sleeps()
    with serve(fault_plan=["slow", "ok"], slow_seconds=30) as handle:
        # 2 s: the answer after the slow one must come within it on a loaded machine.
        reply = await generate(client(handle, sleep=sleeps, timeout=2.0), n=1)
        assert reply.retries == 1 and handle.faults == {"slow": 1}


async def test_giving_up_names_the_attempts_and_the_last_status() -> None:
    sleeps = Sleeps()
    with serve(fault_rate=1.0, faults=["500"]) as handle:
        with pytest.raises(ModelError, match=r"giving up after 3 attempts \(2 retries\).*HTTP 500"):
            await generate(client(handle, sleep=sleeps, max_retries=2))
        assert handle.requests == 3
    assert len(sleeps.delays) == 2


async def test_wrong_key_unknown_model_and_unreachable_server() -> None:
    with serve(api_key="secret") as handle:
        with pytest.raises(ModelError, match=r"rejected the API key \(401\)") as err:
            await generate(client(handle, api_key="wrong"))
        assert "\n" not in str(err.value)
        reply = await generate(client(handle, api_key="secret"))
        assert reply.completions
        with pytest.raises(ModelError, match=r"unknown model \(404\).*gpt-9"):
            await generate(client(handle, "gpt-9", api_key="secret"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ModelError, match="cannot reach the model server .* connection refused"):
        await generate(OpenAIModel("sim", base_url=f"http://127.0.0.1:{port}/v1",
                                   transport=TRANSPORT["name"]))


async def test_many_concurrent_requests_with_latency() -> None:
    with serve(latency=0.2) as handle:
        m = client(handle, concurrency=32)
        try:
            msgs = [prompts.generate_messages(t) for t in tasks()]
            replies = await asyncio.gather(*(m.complete(msgs[i % 5], n=2, seed=i) for i in range(64)))
        finally:
            await m.aclose()
        assert all(len(r.completions) == 2 for r in replies)
        # One request per call: n was honoured (a retried attempt, e.g. a kept-alive
        # connection the server closed as it was reused, may count once more).
        assert all(r.requests == 1 for r in replies)
        assert 64 <= handle.requests <= 64 + sum(r.retries for r in replies)


def test_plain_openai_package_works_as_a_user_would(server: SimServerHandle) -> None:
    api = openai.OpenAI(base_url=server.base_url, api_key="x")
    reply = api.chat.completions.create(
        model="sim-strong", messages=prompts.generate_messages(tasks()[0]), n=2, seed=3,
        temperature=0.8, max_tokens=512,
    )
    assert len(reply.choices) == 2
    assert reply.choices[0].message.role == "assistant"
    assert "```python" in (reply.choices[0].message.content or "")
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert sorted(m.id for m in api.models.list()) == ["sim", "sim-strong", "sim-weak"]
    with pytest.raises(openai.NotFoundError):
        api.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    api.close()


def test_error_bodies_are_openai_shaped(server: SimServerHandle) -> None:
    status, body = post(server, b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}')
    assert status == 404 and body["error"]["code"] == "model_not_found"
    assert body["error"]["param"] == "model"
    status, body = post(server, b"{not json")
    assert status == 400 and "JSON" in body["error"]["message"]
    status, body = post(server, b'{"model": "sim", "messages": []}')
    assert status == 400 and body["error"]["param"] == "messages"
    status, body = post(server, b'{"model": "sim", "n": 0, "messages": [{"role": "user", "content": "x"}]}')
    assert status == 400 and body["error"]["param"] == "n"
    with serve(api_key="k") as keyed:
        status, body = post(keyed, b'{"model": "sim", "messages": [{"role": "user", "content": "x"}]}')
        assert status == 401 and body["error"]["code"] == "invalid_api_key"


def test_faults_are_deterministic_for_a_seed() -> None:
    bodies = [json.dumps({"model": "sim", "messages": [{"role": "user", "content": f"q{i}"}]}).encode()
              for i in range(30)]

    def statuses(seed: int) -> list[int]:
        with serve(fault_rate=0.5, fault_seed=seed, faults=["429", "500"], retry_after=0) as handle:
            return [post(handle, b)[0] for b in bodies + bodies]

    first = statuses(1)
    assert first == statuses(1)
    assert first != statuses(2)
    assert {429, 500, 200} <= set(first)
    # The same body asked again gets a fresh draw, so a retry can succeed.
    assert first[:30] != first[30:]


def test_bad_server_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        start_sim_server(faults=["404"])
    with pytest.raises(ValueError, match="between 0 and 1"):
        start_sim_server(fault_rate=1.5)


def test_one_model_across_several_event_loops(server: SimServerHandle) -> None:
    m = client(server)
    for seed in range(3):  # e.g. a UI that runs each action with asyncio.run
        reply = asyncio.run(m.complete([{"role": "user", "content": "hi"}], seed=seed))
        assert len(reply.completions) == 1
    asyncio.run(m.aclose())  # from yet another loop: nothing to close, no error


class _FixedServer:
    """An OpenAI-compatible server on 127.0.0.1 that answers every chat request with one
    fixed body (a model whose tokenizer is not tiktoken's)."""

    def __init__(self, body: dict[str, Any]) -> None:
        import http.server
        import threading

        data = json.dumps(body).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 -- the http.server name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


async def test_several_choices_share_the_servers_token_count() -> None:
    # A server that honours n reports one completion_tokens for all the choices. Each
    # choice gets its share of that total (by its tiktoken count), so per-choice tokens
    # add up to what the model generated with its own tokenizer (reasoning tokens
    # included), as they do when a server answers one choice per request.
    texts = ["def f(x):\n    return x + 1\n", "x", "def g(a, b):\n    return sorted(a)[:b]\n"]
    body = {"id": "c1", "object": "chat.completion", "created": 0, "model": "other-model",
            "choices": [{"index": i, "message": {"role": "assistant", "content": t},
                         "finish_reason": "stop"} for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": 50, "completion_tokens": 1001, "total_tokens": 1051}}
    fixed = _FixedServer(body)
    try:
        m = OpenAIModel("other-model", base_url=fixed.base_url, transport=TRANSPORT["name"])
        try:
            reply = await m.complete([{"role": "user", "content": "hi"}], n=3)
        finally:
            await m.aclose()
    finally:
        fixed.close()
    tokens = [c.tokens for c in reply.completions]
    assert sum(tokens) == 1001 == reply.usage.completion_tokens
    counts = [count_tokens(t, "other-model") for t in texts]
    for t, c in zip(tokens, counts, strict=True):  # each share within one token of exact
        assert abs(t - 1001 * c / sum(counts)) < 1
