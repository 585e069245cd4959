"""The OpenAI client's configuration rules and retry arithmetic (no server needed).

The client against a real HTTP server (faults, keys, n fallback) is in test_simserver.py.
"""

from __future__ import annotations

import email.utils
import socket
import time

import pytest
from repair_tui.core.errors import ModelError
from repair_tui.core.llm import client as llm
from repair_tui.core.llm.client import OpenAIModel
from repair_tui.core.models import make_model
from repair_tui.core.sim.model import SimModel


class Headers(dict[str, str]):
    """Case-insensitive enough for the names we look up."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        for k, v in self.items():
            if k.lower() == key.lower():
                return v
        return default


def test_make_model_picks_the_simulated_or_the_http_model() -> None:
    for name in llm.SIM_NAMES:
        assert isinstance(make_model(name), SimModel)
    remote = make_model("sim", base_url="http://127.0.0.1:1/v1")
    assert isinstance(remote, OpenAIModel) and not remote.simulated
    local = make_model("llama3", base_url="http://localhost:11434/v1", concurrency=3, timeout=9)
    assert isinstance(local, OpenAIModel)
    assert local.concurrency == 3 and local.timeout == 9


def test_openai_needs_a_key_but_local_servers_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        OpenAIModel("gpt-4o")
    assert OpenAIModel("gpt-4o", api_key="sk-x").base_url == llm.OPENAI_BASE_URL
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert OpenAIModel("gpt-4o")._key == "sk-env"
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:8000/v1/")
    m = OpenAIModel("qwen")
    assert m.base_url == "http://localhost:8000/v1" and m._key == llm.NO_KEY
    assert OpenAIModel("qwen", base_url="http://other:1/v1").base_url == "http://other:1/v1"


def test_retry_after_forms() -> None:
    assert llm._retry_after(Headers({"Retry-After": "3"})) == 3.0
    assert llm._retry_after(Headers({"retry-after": "0.5"})) == 0.5
    assert llm._retry_after(Headers({"retry-after-ms": "250", "Retry-After": "9"})) == 0.25
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (llm._retry_after(Headers({"Retry-After": date})) or 0) <= 31
    past = email.utils.formatdate(time.time() - 30, usegmt=True)
    assert llm._retry_after(Headers({"Retry-After": past})) == 0.0
    assert llm._retry_after(Headers({"Retry-After": "soon"})) is None
    assert llm._retry_after(Headers({})) is None


def test_backoff_grows_with_jitter_and_is_bounded() -> None:
    m = OpenAIModel("x", base_url="http://h/v1", backoff=1.0, max_backoff=8.0)
    for attempt in range(1, 10):
        ceiling = min(2.0 ** (attempt - 1), 8.0)
        for _ in range(20):
            assert ceiling / 2 <= m._delay(attempt, None) <= ceiling
    assert 2.0 <= m._delay(1, 2.0) <= 2.2  # Retry-After wins, plus at most 10% jitter
    assert m._delay(1, 10_000.0) <= llm.MAX_RETRY_AFTER * 1.1
    assert m._delay(1, -5.0) == 0.0


def test_reasoning_models_get_max_completion_tokens() -> None:
    assert llm._max_tokens_param("o3-mini") == "max_completion_tokens"
    assert llm._max_tokens_param("gpt-5") == "max_completion_tokens"
    assert llm._max_tokens_param("gpt-4o") == "max_tokens"
    assert llm._max_tokens_param("llama3") == "max_tokens"


def test_unreachable_reasons_come_from_the_cause_chain() -> None:
    def chained(inner: BaseException) -> Exception:
        try:
            try:
                raise inner
            except BaseException as exc:
                raise RuntimeError("Connection error.") from exc
        except RuntimeError as outer:
            return outer

    assert llm._unreachable_reason(chained(ConnectionRefusedError(111, "refused"))) == "connection refused"
    assert llm._unreachable_reason(chained(socket.gaierror(-2, "Name or service not known"))) == "host not found"
    assert llm._unreachable_reason(chained(ConnectionResetError("reset by peer"))) is None


def test_validated_bodies() -> None:
    good = '{"choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}'
    assert llm._validated(good)["choices"][0]["message"]["content"] == "hi"
    for bad in ("{", "[]", '{"choices": []}', '{"choices": [{"message": {"content": 3}}]}', "null"):
        with pytest.raises(llm._Retryable, match="malformed"):
            llm._validated(bad)
    # A refusal or tool call has content null: not malformed, just empty text.
    assert llm._validated('{"choices": [{"message": {"content": null}}]}')


def test_one_line_messages() -> None:
    assert llm._one_line("a\n  b\tc") == "a b c"
    assert len(llm._one_line("x" * 500)) == 200


@pytest.fixture
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No transport asked for and no proxy configured."""
    monkeypatch.delenv("REPAIR_TUI_HTTP_CLIENT", raising=False)
    for proxy in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)


def test_the_openai_sdk_is_the_default_and_the_lean_client_is_opt_in(
    plain_env: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not OpenAIModel("m", base_url="http://127.0.0.1:1/v1").lean
    monkeypatch.setenv("REPAIR_TUI_HTTP_CLIENT", "lean")
    assert OpenAIModel("m", base_url="http://127.0.0.1:1/v1").lean
    assert not OpenAIModel("m", base_url="https://api.example.com/v1").lean
    assert not OpenAIModel("m", base_url="http://127.0.0.1:1/v1", transport="sdk").lean


def test_under_the_sdk_plain_http_goes_through_the_keep_alive_pool(
    plain_env: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert OpenAIModel("m", base_url="http://127.0.0.1:1/v1").pooled
    assert not OpenAIModel("m", base_url="https://api.example.com/v1").pooled
    assert not OpenAIModel("m", base_url="http://127.0.0.1:1/v1", transport="httpx").pooled
    assert not OpenAIModel("m", base_url="http://127.0.0.1:1/v1", transport="lean").pooled
    monkeypatch.setenv("REPAIR_TUI_HTTP_CLIENT", "httpx")
    assert not OpenAIModel("m", base_url="http://127.0.0.1:1/v1").pooled
    monkeypatch.setenv("REPAIR_TUI_HTTP_CLIENT", "sdk")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")  # httpx's transport handles proxies
    assert not OpenAIModel("m", base_url="http://127.0.0.1:1/v1").pooled
    with pytest.raises(ValueError, match="transport must be one of"):
        OpenAIModel("m", base_url="http://127.0.0.1:1/v1", transport="h2")
