"""Framing for every pipe the sandbox uses: a 4-byte big-endian length, then JSON.

The caller talks to the fork server, the server to each job runner, and each test
process to its runner with the same frames. Readers are incremental so a single-
threaded poll loop can feed them whatever bytes arrive.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024  # guards against a corrupt length field


class FrameError(ValueError):
    """A stream did not contain well-formed frames."""


def encode(obj: Any) -> bytes:
    """One frame holding ``obj`` as JSON."""
    body = json.dumps(obj, separators=(",", ":")).encode()
    return HEADER.pack(len(body)) + body


def sealed_memfd(payload: bytes, name: str) -> int:
    """A memfd holding ``payload``, sealed so that nobody can change it (the checks the
    judges read, the jobs the test processes read)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        write_all(fd, payload)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a blocking fd."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes:
    """Read exactly ``size`` bytes from a blocking fd; EOFError if it ends first."""
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> Any:
    """Read one frame from a blocking fd (EOFError at a clean end of stream)."""
    (size,) = HEADER.unpack(read_exact(fd, HEADER.size))
    if size > MAX_FRAME:
        raise FrameError(f"frame of {size} bytes is too large")
    return json.loads(read_exact(fd, size))


class FrameReader:
    """Splits a byte stream into raw frame bodies as bytes arrive."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return every frame body now complete (raw, without the header)."""
        self._buf += data
        frames: list[bytes] = []
        while len(self._buf) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buf)
            if size > MAX_FRAME:
                raise FrameError(f"frame of {size} bytes is too large")
            end = HEADER.size + size
            if len(self._buf) < end:
                break
            frames.append(bytes(self._buf[HEADER.size : end]))
            del self._buf[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole frame."""
        return len(self._buf)
