"""`PooledTransport`: the httpx transport the openai SDK sends through to plain http:// servers.

The SDK stays the client (request building, auth, status errors, the response it
hands back); only the last step, putting the request's bytes on a socket and reading
the answer, goes through `core.llm.http.Pool` instead of httpcore's connection pool,
whose bookkeeping (it scans every pooled connection twice per request, and h11
validates each header) was the largest CPU cost of a call on a small machine.

Timeouts follow the request's httpx timeout: ``connect`` bounds opening a connection,
``read`` bounds the whole exchange (a model call's answer comes in one piece, so the
bound is on the answer, not on each read). Errors become httpx's own
(`httpx2.ConnectError`, `ReadTimeout`, `ReadError`, `RemoteProtocolError`), which
the SDK turns into `APIConnectionError` and `APITimeoutError` as it does for httpcore.
No TLS, proxies or HTTP/2: `OpenAIModel` uses this transport only where
`core.llm.http.lean_usable` holds.
"""

from __future__ import annotations

import asyncio

import httpx2
from repair_tui.core.llm.http import ConnectFailed, Pool, ProtocolError


class PooledTransport(httpx2.AsyncBaseTransport):
    """Sends httpx requests over keep-alive `Pool` connections, one pool per host:port."""

    def __init__(self) -> None:
        self._pools: dict[tuple[str, int], Pool] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx2.UnsupportedProtocol(
                f"this transport speaks plain http://, not {url.scheme}://", request=request)
        key = (url.host, url.port or 80)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = Pool(*key)
        timeout = request.extensions.get("timeout") or {}
        data = await _request_bytes(request)
        try:
            async with asyncio.timeout(timeout.get("read")):
                answer = await pool.send(data, timeout.get("connect"),
                                         head=request.method == "HEAD")
        except ConnectFailed as exc:
            if isinstance(exc.__cause__, TimeoutError):
                raise httpx2.ConnectTimeout(str(exc), request=request) from exc
            raise httpx2.ConnectError(str(exc), request=request) from exc
        except TimeoutError as exc:
            raise httpx2.ReadTimeout("timed out waiting for the answer", request=request) from exc
        except (ProtocolError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise httpx2.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
        except OSError as exc:
            raise httpx2.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        return httpx2.Response(
            status_code=answer.status,
            headers=list(answer.raw_headers),
            stream=httpx2.ByteStream(answer.body),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason.encode("latin-1")},
            request=request,
        )

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.aclose()


async def _request_bytes(request: httpx2.Request) -> bytes:
    """The request as HTTP/1.1 bytes: request line, headers as httpx prepared them, body."""
    body = await request.aread()
    headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"transfer-encoding"]
    if not any(k.lower() == b"content-length" for k, _ in headers) and (
            body or request.method not in ("GET", "HEAD")):
        headers.append((b"Content-Length", str(len(body)).encode()))
    head = b"".join(b"%s: %s\r\n" % kv for kv in headers)
    target: bytes = request.url.raw_path  # path and query, as httpx encoded them
    return b"%s %s HTTP/1.1\r\n%s\r\n%s" % (request.method.encode(), target, head, body)
