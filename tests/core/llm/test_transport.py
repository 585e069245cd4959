"""The httpx transport under the openai SDK for plain http:// servers, against small real
servers on 127.0.0.1: what goes on the wire, answers serve-sim never gives (chunked,
ended by closing, dropped keep-alive connections, garbage), and httpx's own errors
for each failure, which the SDK maps as it does httpcore's."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx2
import openai
import pytest
from repair_tui.core.llm.transport import PooledTransport
from test_http import Reply, ok, serving


def port_of(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=PooledTransport(), timeout=10) as client:
        yield client


async def serve(reply: Reply) -> tuple[asyncio.Server, list[bytes], str]:
    server, seen = await serving(reply)
    return server, seen, f"http://127.0.0.1:{port_of(server)}"


async def test_the_request_httpx_built_goes_out_as_is_over_one_connection(
    http: httpx2.AsyncClient,
) -> None:
    server, seen, url = await serve(lambda _: ok(b'{"a": 1}'))
    async with server:
        for _ in range(3):
            answer = await http.post(f"{url}/v1/chat/completions?x=a%20b", content=b'{"q": 2}',
                                     headers={"Authorization": "Bearer k"})
            assert (answer.status_code, answer.json(), answer.reason_phrase) == (200, {"a": 1}, "OK")
    head, body = seen[0].split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/chat/completions?x=a%20b HTTP/1.1"
    assert b"Authorization: Bearer k" in lines[1:]
    assert f"Host: {url.removeprefix('http://')}".encode() in lines[1:]
    assert b"Content-Length: 8" in lines[1:] and body == b'{"q": 2}'
    pools = list(http._transport._pools.values())  # type: ignore[attr-defined]
    assert len(pools) == 1 and len(pools[0]._idle) == 1  # one connection carried all three


async def test_chunked_and_closing_answers_and_their_headers(http: httpx2.AsyncClient) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\n"
               b"Set-Cookie: b=2\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n")
    server, _, url = await serve(lambda _: chunked)
    async with server:
        answer = await http.post(f"{url}/x", content=b"{}")
        assert answer.content == b"abcdefg"
        assert answer.headers.get_list("set-cookie") == ["a=1", "b=2"]
    closing = b"HTTP/1.0 503 Busy\r\nRetry-After: 2\r\nConnection: close\r\n\r\nlater"
    server, _, url = await serve(lambda _: closing)
    async with server:
        answer = await http.post(f"{url}/x", content=b"{}")
        assert (answer.status_code, answer.headers["retry-after"], answer.text) == (503, "2", "later")
        assert answer.reason_phrase == "Busy"


async def test_a_kept_alive_connection_the_server_dropped_is_replaced(
    http: httpx2.AsyncClient,
) -> None:
    count = {"n": 0}

    def reply(_: bytes) -> bytes | None:
        count["n"] += 1
        return ok(b"1") if count["n"] != 2 else None  # the 2nd request: hang up unanswered

    server, seen, url = await serve(reply)
    async with server:
        assert (await http.post(f"{url}/x", content=b"{}")).content == b"1"
        assert (await http.post(f"{url}/x", content=b"{}")).content == b"1"
        assert len(seen) == 3


async def test_failures_become_httpx_errors(http: httpx2.AsyncClient) -> None:
    server, _, url = await serve(lambda _: b"SSH-2.0-OpenSSH\r\n\r\n")
    async with server:
        with pytest.raises(httpx2.RemoteProtocolError, match="bad status line"):
            await http.post(f"{url}/x", content=b"{}")
    server, _, url = await serve(lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nshort")
    async with server:
        # The answer ends before its length: the server hung up mid-answer.
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.post(f"{url}/x", content=b"{}")
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    with pytest.raises(httpx2.ConnectError) as caught:
        await http.post(f"http://127.0.0.1:{free}/x", content=b"{}")
    assert isinstance(caught.value.__cause__.__cause__, ConnectionRefusedError)  # type: ignore[union-attr]
    with pytest.raises(httpx2.UnsupportedProtocol):
        await http.post("https://127.0.0.1:1/x", content=b"{}")


async def test_an_answer_that_never_comes_is_a_read_timeout() -> None:
    server, _, url = await serve(lambda _: b"")  # reads the request, never answers
    async with server, httpx2.AsyncClient(transport=PooledTransport(),
                                          timeout=httpx2.Timeout(5, read=0.05)) as http:
        with pytest.raises(httpx2.ReadTimeout):
            await http.post(f"{url}/x", content=b"{}")


async def test_the_sdk_maps_the_transport_errors_as_for_httpcore() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    http = httpx2.AsyncClient(transport=PooledTransport())
    client = openai.AsyncOpenAI(api_key="k", base_url=f"http://127.0.0.1:{free}/v1",
                                max_retries=0, http_client=http)
    with pytest.raises(openai.APIConnectionError):
        await client.post("/chat/completions", body={"model": "m"}, cast_to=str)
    await client.close()


async def test_answers_without_a_body_and_interim_ones(http: httpx2.AsyncClient) -> None:
    # 204 and HEAD answers end at their headers (a Content-Length says what a GET would
    # get); a 100 Continue before the answer is skipped. The connection stays usable.
    answers = iter([b"HTTP/1.1 204 No Content\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    server, seen, url = await serve(lambda _: next(answers))
    async with server:
        assert (await http.post(f"{url}/x", content=b"{}")).status_code == 204
        head = await http.head(f"{url}/x", headers={"Content-Length": "0"})  # for serving()
        assert (head.status_code, head.content) == (200, b"")
        assert (await http.post(f"{url}/x", content=b"{}")).text == "ok"
        assert len(seen) == 3
