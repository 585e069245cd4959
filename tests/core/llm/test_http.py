"""The lean HTTP/1.1 transport against small real servers on 127.0.0.1 (answers the
simulated server never gives: chunked bodies, bodies ended by closing, dropped
keep-alive connections, garbage)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from repair_tui.core.llm.http import LeanHTTP, ProtocolError, lean_usable

Reply = Callable[[bytes], bytes | None]  # request bytes -> raw answer (None: close)


async def serving(reply: Reply) -> tuple[asyncio.Server, list[bytes]]:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                request = head + await reader.readexactly(length)
                seen.append(request)
                answer = reply(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, seen


@pytest.fixture
async def lean() -> AsyncIterator[Callable[[asyncio.Server], LeanHTTP]]:
    made: list[LeanHTTP] = []

    def make(server: asyncio.Server) -> LeanHTTP:
        port = server.sockets[0].getsockname()[1]
        made.append(LeanHTTP(f"http://127.0.0.1:{port}/v1", {"Authorization": "Bearer k"}))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


def ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


async def test_content_length_keep_alive_and_the_request_sent(lean: Callable[..., LeanHTTP]) -> None:
    server, seen = await serving(lambda _: ok(b'{"a": 1}'))
    async with server:
        client = lean(server)
        for _ in range(3):
            answer = await client.post("/chat/completions", b'{"x":2}')
            assert (answer.status, answer.body) == (200, b'{"a": 1}')
        assert len(seen) == 3
        head = seen[0].decode()
        assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
        assert "Authorization: Bearer k\r\n" in head and head.endswith('{"x":2}')
        assert len(client.pool._idle) == 1  # one connection carried all three


async def test_chunked_bodies_and_bodies_ended_by_closing(lean: Callable[..., LeanHTTP]) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nX-Trailer: 1\r\n\r\n")
    server, _ = await serving(lambda _: chunked)
    async with server:
        assert (await lean(server).post("/x", b"{}")).body == b"abcdefg"
    closing = b"HTTP/1.0 503 Busy\r\nRetry-After: 2\r\nConnection: close\r\n\r\nlater"
    server, _ = await serving(lambda _: closing)
    async with server:
        client = lean(server)
        answer = await client.post("/x", b"{}")
        assert (answer.status, answer.headers["retry-after"], answer.body) == (503, "2", b"later")
        assert client.pool._idle == []  # not reusable


async def test_a_kept_alive_connection_the_server_dropped_is_replaced(
    lean: Callable[..., LeanHTTP],
) -> None:
    count = {"n": 0}

    def reply(_: bytes) -> bytes | None:
        count["n"] += 1
        return ok(b"1") if count["n"] != 2 else None  # the 2nd request: hang up unanswered

    server, seen = await serving(reply)
    async with server:
        client = lean(server)
        assert (await client.post("/x", b"{}")).body == b"1"
        assert (await client.post("/x", b"{}")).body == b"1"  # sent again on a new connection
        assert len(seen) == 3


async def test_garbage_is_a_protocol_error(lean: Callable[..., LeanHTTP]) -> None:
    server, _ = await serving(lambda _: b"SSH-2.0-OpenSSH\r\n\r\n")
    async with server:
        with pytest.raises(ProtocolError, match="bad status line"):
            await lean(server).post("/x", b"{}")


def test_only_plain_http_without_a_proxy_is_lean() -> None:
    assert lean_usable("http://127.0.0.1:8000/v1", {})
    assert not lean_usable("https://api.openai.com/v1", {})
    assert not lean_usable("http://127.0.0.1:8000/v1", {"HTTP_PROXY": "http://proxy:3128"})
    assert not lean_usable("http://127.0.0.1:8000/v1", {"all_proxy": "socks5://p:1"})
    with pytest.raises(ValueError, match="plain http"):
        LeanHTTP("https://api.openai.com/v1", {})
