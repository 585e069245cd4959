"""A lean HTTP/1.1 client for OpenAI-compatible servers reached over plain ``http://``.

Local servers (vLLM, Ollama, llama.cpp, LM Studio, ``repair-tui serve-sim``) answer on
plain HTTP, often on the same machine, where the client's own CPU per request is what
limits a run: httpx's generic connection pool (httpcore, h11) walks every pooled
connection on each request and validates every header twice, about as much CPU as
the rest of the engine's work on a call. `Pool` keeps keep-alive connections to one
``host:port`` on asyncio streams, sends a request's bytes and reads the answer
(``Content-Length`` or chunked), nothing else: no TLS, no proxies, no redirects.

Two clients use it (core/llm/client.py): `PooledTransport` (core/llm/transport.py) is
the httpx transport under the openai SDK for plain http:// URLs, and `LeanHTTP` posts
JSON without the SDK (opt-in). Both map errors the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
MAX_HEADER_LINES = 200


@dataclass(frozen=True)
class Answer:
    """One HTTP response: status, headers (lower-case names) and body; ``raw_headers``
    as sent (names as the server spelled them, repeats kept) and the reason phrase."""

    status: int
    headers: dict[str, str]
    body: bytes
    raw_headers: tuple[tuple[str, str], ...] = ()
    reason: str = ""


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.1 as we read it (retryable, like a dropped
    connection)."""


class ConnectFailed(OSError):
    """A new connection could not be opened (its cause says why: refused, no such
    host, timed out); nothing was sent."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Pool:
    """Keep-alive HTTP/1.1 connections to one ``host:port``.

    Bound to the event loop that first uses it (asyncio streams are). The number of
    connections follows the number of requests in flight; callers bound that.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._idle: list[_Connection] = []

    async def send(self, request: bytes, connect_timeout: float | None = None, *,
                   head: bool = False) -> Answer:
        """Send one whole request and read its answer (``head``: a HEAD request's, with
        no body). A pooled connection that the server closed meanwhile is replaced
        once; a new connection that cannot be opened raises ConnectFailed; other
        failures raise OSError, ProtocolError or asyncio.IncompleteReadError."""
        while self._idle:
            conn = self._idle.pop()
            try:
                return await self._exchange(conn, request, head)
            except (ConnectionError, asyncio.IncompleteReadError):
                conn.close()  # closed by the server while idle: try a fresh one
        return await self._exchange(await self._connect(connect_timeout), request, head)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    async def _connect(self, timeout: float | None) -> _Connection:
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            why = "timed out" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            raise ConnectFailed(f"cannot connect to {self.host}:{self.port}: {why}") from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(reader, writer)

    async def _exchange(self, conn: _Connection, request: bytes, head: bool) -> Answer:
        try:
            conn.writer.write(request)
            answer, keep = await _read_answer(conn.reader, head)
        except BaseException:
            conn.close()
            raise
        if keep:
            self._idle.append(conn)
        else:
            conn.close()
        return answer


class LeanHTTP:
    """POSTs JSON to one ``http://host:port`` over a `Pool`, without the SDK.

    Bound to the event loop that first uses it, like the SDK's client in `OpenAIModel`.
    """

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not a plain http:// URL: {base_url!r}")
        self.pool = Pool(parts.hostname, parts.port or 80)
        self.prefix = parts.path.rstrip("/")
        netloc = parts.netloc.rsplit("@", 1)[-1]
        fixed = {"Host": netloc, "Accept": "application/json", "Content-Type": "application/json",
                 "User-Agent": "repair-tui", **headers}
        self._head = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())

    async def post(self, path: str, body: bytes) -> Answer:
        """POST ``body`` to ``prefix + path`` (errors: see `Pool.send`)."""
        request = (f"POST {self.prefix}{path} HTTP/1.1\r\n{self._head}"
                   f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body
        return await self.pool.send(request)

    async def aclose(self) -> None:
        await self.pool.aclose()


async def _read_answer(reader: asyncio.StreamReader, head: bool = False) -> tuple[Answer, bool]:
    """One response (after any interim 1xx ones); and whether the connection can carry
    another. ``head``: the request was a HEAD, whose answer has no body."""
    version, status, reason, headers, raw_headers = await _read_head(reader)
    while 100 <= status < 200:
        if status == 101:
            raise ProtocolError("the server switched protocols")
        version, status, reason, headers, raw_headers = await _read_head(reader)
    keep = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
    if head or status in (204, 304):
        body = b""  # no body, whatever the headers say (RFC 9112, section 6.3)
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise ProtocolError("bad Content-Length") from None
        body = await reader.readexactly(length)
    else:
        body, keep = await reader.read(), False  # the body ends with the connection
    return Answer(status, headers, body, tuple(raw_headers), reason), keep


async def _read_head(
    reader: asyncio.StreamReader,
) -> tuple[str, int, str, dict[str, str], list[tuple[str, str]]]:
    """A response's status line and headers: version, status, reason phrase, headers by
    lower-case name, and headers as sent."""
    line = await reader.readuntil(b"\r\n")
    try:
        version, code, *rest = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        status = int(code)
    except ValueError:
        raise ProtocolError(f"bad status line {line[:60]!r}") from None
    if not version.startswith("HTTP/1."):
        raise ProtocolError(f"bad status line {line[:60]!r}")
    headers: dict[str, str] = {}
    raw_headers: list[tuple[str, str]] = []
    for _ in range(MAX_HEADER_LINES):
        raw = await reader.readuntil(b"\r\n")
        if raw == b"\r\n":
            break
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {raw[:60]!r}")
        name, value = name.strip(), value.strip()
        raw_headers.append((name, value))
        headers[name.lower()] = value
    else:
        raise ProtocolError("too many header lines")
    return version, status, rest[0] if rest else "", headers, raw_headers


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_line[:30]!r}") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ProtocolError("chunk without its CRLF")


def lean_usable(base_url: str, environ: dict[str, str]) -> bool:
    """True for a plain http:// URL with no HTTP proxy configured (the SDK handles proxies)."""
    try:
        parts = urlsplit(base_url)
    except ValueError:
        return False
    return parts.scheme == "http" and bool(parts.hostname) and not any(
        environ.get(v) for v in PROXY_VARIABLES
    )
