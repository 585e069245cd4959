"""The model protocol every part uses, and the OpenAI-compatible client.

`ChatModel` is what the engine calls. `OpenAIModel` implements it over any
OpenAI-compatible ``/v1/chat/completions`` endpoint (OpenAI, vLLM, Ollama, llama.cpp,
LM Studio, ``repair-tui serve-sim``); `repair_tui.core.models.make_model` picks it or
the in-process simulated model from a name.

Retries are ours (the SDK's are off): exponential backoff with jitter on 429, 408, 409,
5xx, timeouts, dropped connections and malformed bodies, honouring ``Retry-After``,
bounded by ``max_retries``. Everything the user can fix (key, model name, server
address) raises a one-line `ModelError`.

Requests go through the ``openai`` SDK. For a plain ``http://`` server (a local vLLM,
Ollama, serve-sim) with no proxy configured, the SDK's httpx client sends them through
`core.llm.transport.PooledTransport` (our keep-alive pool: about 40% less CPU per
call than httpx's own) and keeps httpx's transport everywhere else; ``transport="httpx"`` (or
``REPAIR_TUI_HTTP_CLIENT=httpx``) keeps httpx's transport for every URL.
``transport="lean"`` (or ``REPAIR_TUI_HTTP_CLIENT=lean``) posts through
`core.llm.http.LeanHTTP` without the SDK, cheaper again; it is opt-in because the SDK
is what every OpenAI-compatible server is tested against.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from repair_tui.core.errors import CallError, MissingAPIKeyError, ModelError

if TYPE_CHECKING:
    pass

SIM_NAMES = ("sim", "sim-weak", "sim-strong")
OPENAI_BASE_URL = "https://api.openai.com/v1"
# A placeholder sent to servers that need no key (vLLM, Ollama, serve-sim without --api-key).
NO_KEY = "not-needed"
MAX_RETRY_AFTER = 120.0  # seconds; a longer Retry-After is clamped to this
# How requests are sent (see the module docstring); "auto" reads REPAIR_TUI_HTTP_CLIENT.
TRANSPORTS = ("auto", "sdk", "httpx", "lean")


@dataclass(frozen=True)
class Completion:
    """One choice of a model answer."""

    text: str
    tokens: int  # tokens generated for this choice (tiktoken count when the server gives none)
    finish_reason: str = "stop"


@dataclass(frozen=True)
class Usage:
    """Token usage as the server reported it (None where it did not)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class ModelReply:
    """What one `complete` call returns: its choices, usage, and what to store."""

    completions: list[Completion]
    model: str
    usage: Usage = field(default_factory=Usage)
    latency: float = 0.0  # seconds, all requests of this call
    requests: int = 1  # HTTP requests made (more when the server returned fewer than n)
    raw: list[dict[str, Any]] = field(default_factory=list)  # response bodies, for the calls table
    retries: int = 0  # failed attempts that were retried (429, 5xx, timeouts, ...)


class ChatModel(Protocol):
    """An async chat model. Both the OpenAI client and the simulated model implement it."""

    name: str
    simulated: bool

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        n: int = 1,
        temperature: float = 0.8,
        max_tokens: int = 1024,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> ModelReply: ...

    async def aclose(self) -> None: ...


class _Retryable(Exception):
    """A failed attempt worth repeating; `status` names it in the final error."""

    def __init__(self, status: str, retry_after: float | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


@dataclass
class _Result:
    """The bodies of the successful requests of one `complete` call."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0


class OpenAIModel:
    """A chat model behind an OpenAI-compatible endpoint (`openai.AsyncOpenAI`)."""

    simulated = False

    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        transport: str = "auto",
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
        self.name = name
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL).rstrip("/")
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if self.base_url == OPENAI_BASE_URL:
                raise MissingAPIKeyError(
                    f"model {name!r}: no API key; set OPENAI_API_KEY (or pass --base-url "
                    "for a local OpenAI-compatible server)", name)
            key = NO_KEY
        self._key = key
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep or asyncio.sleep
        # Built once per event loop: asyncio objects and pooled connections are bound to
        # the loop that first used them.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._sem: asyncio.Semaphore | None = None
        from repair_tui.core.llm.http import lean_usable

        if transport == "lean" and not lean_usable(self.base_url, {}):
            raise ValueError(f"the lean transport needs a plain http:// URL, not {self.base_url!r}")
        # auto: the SDK, unless the environment asks for another transport.
        chosen = transport
        if transport == "auto":
            wanted = os.environ.get("REPAIR_TUI_HTTP_CLIENT", "").strip().lower()
            transport = wanted if wanted in ("sdk", "httpx", "lean") else "sdk"
        usable = lean_usable(self.base_url, dict(os.environ))
        # Asked for by name, the lean client serves any http:// URL; from the environment,
        # only where no proxy is configured (the SDK's httpx handles proxies).
        self.lean = transport == "lean" and (chosen == "lean" or usable)
        # Under the SDK, plain http:// servers get our keep-alive pool as httpx transport.
        self.pooled = transport == "sdk" and usable

    def _bind(self) -> tuple[Any, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            if self.lean:
                from repair_tui.core.llm.http import LeanHTTP

                self._client = LeanHTTP(self.base_url, {"Authorization": f"Bearer {self._key}"})
                self._sem = asyncio.Semaphore(self.concurrency)
                self._loop = loop
                return self._client, self._sem
            import openai

            # Our own HTTP client: the SDK's default one closes itself from __del__ on
            # whatever loop is running, which fails noisily once its own loop is gone.
            pooled = None
            if self.pooled:
                from repair_tui.core.llm.transport import PooledTransport

                pooled = PooledTransport()
            http = openai.DefaultAsyncHttpxClient(timeout=self.timeout, transport=pooled)
            self._client = openai.AsyncOpenAI(
                api_key=self._key, base_url=self.base_url, timeout=self.timeout, max_retries=0,
                http_client=http,
            )
            self._sem = asyncio.Semaphore(self.concurrency)
            self._loop = loop
        assert self._sem is not None
        return self._client, self._sem

    async def aclose(self) -> None:
        """Close the HTTP client (if it was used)."""
        client, self._client = self._client, None
        # Connections made on another (finished) event loop cannot be closed from here.
        if client is not None and self._loop is asyncio.get_running_loop():
            await (client.aclose() if self.lean else client.close())

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        n: int = 1,
        temperature: float = 0.8,
        max_tokens: int = 1024,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> ModelReply:
        """Ask for `n` choices in one request; top up with more requests if fewer come back.

        Servers that ignore ``n`` (Ollama, llama.cpp) get one extra request per missing
        batch; with a seed, the extra requests use seed+1, seed+2, ... so they differ.
        """
        start = time.monotonic()
        params: dict[str, Any] = {"temperature": temperature}
        params[_max_tokens_param(self.name)] = max_tokens
        if stop:
            params["stop"] = list(stop)
        result = _Result()
        first = await self._request(messages, n, seed, params, result)
        result.bodies.append(first)
        got = len(first["choices"])
        while got < n:
            # The server gave `per` choices per request: ask for the rest in parallel,
            # keeping the bodies in request order so that choices come back in order.
            per = max(1, min(len(first["choices"]), n - got))
            asks = [min(per, n - got - i * per) for i in range(-(-(n - got) // per))]
            base = len(result.bodies)
            seeds = [None if seed is None else seed + base + i for i in range(len(asks))]
            bodies = await asyncio.gather(
                *(self._request(messages, k, s, params, result) for k, s in zip(asks, seeds, strict=True))
            )
            result.bodies.extend(bodies)
            got += sum(len(b["choices"]) for b in bodies)
        return self._reply(result, n, time.monotonic() - start)

    def _reply(self, result: _Result, n: int, latency: float) -> ModelReply:
        from repair_tui.core.llm.tokens import count_tokens

        completions: list[Completion] = []
        prompt_total: int | None = None
        completion_total: int | None = None
        for body in result.bodies:
            usage = body.get("usage") or {}
            p, c = usage.get("prompt_tokens"), usage.get("completion_tokens")
            if isinstance(p, int):
                prompt_total = (prompt_total or 0) + p
            if isinstance(c, int):
                completion_total = (completion_total or 0) + c
            texts = [choice["message"].get("content") or "" for choice in body["choices"]]
            if len(texts) == 1 and isinstance(c, int):
                counts = [c]
            else:
                # Several choices: the server's total, split in proportion to each text's
                # tiktoken count. So a choice's tokens are the model's own (its tokenizer,
                # reasoning tokens included) whether or not the server honours n.
                counts = [count_tokens(text, self.name) for text in texts]
                if isinstance(c, int) and c > 0:
                    counts = split_total(c, counts)
            for choice, text, tokens in zip(body["choices"], texts, counts, strict=True):
                finish = choice.get("finish_reason") or "stop"
                completions.append(Completion(text=text, tokens=tokens, finish_reason=str(finish)))
        return ModelReply(
            completions=completions[:n],
            model=self.name,
            usage=Usage(prompt_total, completion_total),
            latency=latency,
            requests=len(result.bodies),
            raw=result.bodies,
            retries=result.retries,
        )

    async def _request(
        self,
        messages: list[dict[str, str]],
        n: int,
        seed: int | None,
        params: dict[str, Any],
        result: _Result,
    ) -> dict[str, Any]:
        """One logical request with our retries (counted in `result`); its valid body."""
        client, sem = self._bind()
        kwargs = dict(params, n=n)
        if seed is not None:
            kwargs["seed"] = seed
        attempt = 0
        while True:
            try:
                async with sem:
                    return await self._attempt(client, messages, kwargs)
            except _Retryable as exc:
                attempt += 1
                if attempt > self.max_retries:
                    raise CallError(
                        f"model {self.name!r} at {self.base_url}: giving up after "
                        f"{attempt} attempts ({self.max_retries} retries); last error: {exc.status}"
                    ) from None
                result.retries += 1
                await self._sleep(self._delay(attempt, exc.retry_after))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            # The server said when: wait that long, plus a little jitter against herds.
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER) * (1 + 0.1 * random.random())
        ceiling = min(self.backoff * 2.0 ** (attempt - 1), self.max_backoff)
        return ceiling * (0.5 + 0.5 * random.random())  # "equal jitter"

    async def _attempt(
        self, client: Any, messages: list[dict[str, str]], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        if self.lean:
            return await self._lean_attempt(client, messages, kwargs)
        import httpx2
        import openai

        try:
            # The client's own POST (auth, base URL, timeouts, status errors) with the
            # body as we built it: chat.completions.create would first walk every
            # message through its typed transform, about 1 ms a call, and parse the
            # answer into models we do not use. We read the body as text.
            text = await client.post(
                "/chat/completions", body={"model": self.name, "messages": messages, **kwargs},
                cast_to=str,
            )
        except openai.APIStatusError as exc:
            self._raise_status_error(exc)
        except openai.APITimeoutError:
            raise _Retryable(f"timeout after {self.timeout:g} s") from None
        except openai.APIConnectionError as exc:
            self._raise_connection_error(exc)
        except httpx2.TimeoutException:
            raise _Retryable(f"timeout after {self.timeout:g} s") from None
        except httpx2.TransportError as exc:
            raise _Retryable(f"connection error ({type(exc).__name__})") from None
        return _validated(text)

    async def _lean_attempt(
        self, client: Any, messages: list[dict[str, str]], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        from repair_tui.core.llm.http import ProtocolError

        body = json.dumps({"model": self.name, "messages": messages, **kwargs},
                          ensure_ascii=False, separators=(",", ":")).encode()
        try:
            async with asyncio.timeout(self.timeout):
                answer = await client.post("/chat/completions", body)
        except TimeoutError:
            raise _Retryable(f"timeout after {self.timeout:g} s") from None
        except (OSError, ProtocolError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self._raise_connection_error(exc)
        text = answer.body.decode("utf-8", errors="replace")
        if answer.status >= 400:
            try:
                error_body: Any = json.loads(text)
            except ValueError:
                error_body = None
            error = error_body.get("error") if isinstance(error_body, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            message = _server_message(_LeanError(error_body, text or f"HTTP {answer.status}"))
            self._raise_status(answer.status, message, code, answer.headers)
        return _validated(text)

    def _raise_connection_error(self, exc: BaseException) -> NoReturn:
        """A server that cannot be reached is the user's to fix; a dropped connection is retried."""
        reason = _unreachable_reason(exc)
        if reason:
            raise ModelError(f"cannot reach the model server at {self.base_url}: {reason}") from None
        raise _Retryable(f"connection error ({_cause_text(exc)})") from None

    def _raise_status_error(self, exc: Any) -> NoReturn:
        self._raise_status(int(exc.status_code), _server_message(exc), getattr(exc, "code", None),
                           exc.response.headers)

    def _raise_status(self, status: int, message: str, code: Any, headers: Any) -> NoReturn:
        message = _one_line(message)
        where = f"model {self.name!r} at {self.base_url}"
        if status in (408, 409, 429) or status >= 500:
            raise _Retryable(f"HTTP {status}", _retry_after(headers)) from None
        if status == 401:
            raise ModelError(
                f"{where}: the server rejected the API key (401); check OPENAI_API_KEY or --api-key"
            ) from None
        if status == 403:
            raise ModelError(f"{where}: access denied (403): {message}") from None
        if status == 404 or code == "model_not_found":
            raise ModelError(f"{where}: unknown model ({status}): {message}") from None
        raise CallError(f"{where}: request rejected ({status}): {message}") from None


@dataclass(frozen=True)
class _LeanError:
    """An error answer read by the lean transport, shaped like the SDK's for `_server_message`."""

    body: Any
    message: str


def split_total(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights``, in whole numbers that add up to it
    (largest remainders; ties to the earlier). Equal to ``weights`` when they already add
    up to ``total``; all-zero weights split evenly."""
    if not weights:
        return []
    if sum(weights) <= 0:
        weights = [1] * len(weights)
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _server_message(exc: Any) -> str:
    """The server's own error message, without the SDK's "Error code: NNN - " prefix."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        inner: dict[str, Any] = error if isinstance(error, dict) else body
        message = inner.get("message")
        if isinstance(message, str) and message:
            return message
    text = str(getattr(exc, "message", "") or exc)
    return re.sub(r"^Error code: \d+ - ", "", text)


def _max_tokens_param(model: str) -> str:
    # Reasoning models reject max_tokens and want max_completion_tokens.
    low = model.lower().rsplit("/", 1)[-1]
    reasoning = low.startswith(("o1", "o3", "o4", "gpt-5"))
    return "max_completion_tokens" if reasoning else "max_tokens"


def _validated(text: str) -> dict[str, Any]:
    """The response body as a dict, or _Retryable when it is not a chat completion."""
    try:
        body = json.loads(text)
    except ValueError:
        raise _Retryable("malformed response body (not JSON)") from None
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices:
        raise _Retryable("malformed response body (no choices)")
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else 0
        if content is not None and not isinstance(content, str):
            raise _Retryable("malformed response body (choice without a message)")
    assert isinstance(body, dict)
    return body


def _retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain and len(chain) < 20:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


_UNREACHABLE = (
    ("connection refused", ("connection refused", "connect call failed")),
    ("host not found", ("name or service not known", "nodename nor servname",
                        "temporary failure in name resolution", "getaddrinfo failed")),
)


def _unreachable_reason(exc: BaseException) -> str | None:
    """'connection refused' or 'host not found' when retrying cannot help, else None."""
    for err in _causes(exc):
        if isinstance(err, ConnectionRefusedError):
            return "connection refused"
        if isinstance(err, socket.gaierror):
            return "host not found"
        text = str(err).lower()
        for reason, needles in _UNREACHABLE:
            if any(needle in text for needle in needles):
                return reason
    return None


def _cause_text(exc: BaseException) -> str:
    chain = _causes(exc)
    root = chain[-1]
    return _one_line(f"{type(root).__name__}: {root}" if str(root) else type(root).__name__)


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
