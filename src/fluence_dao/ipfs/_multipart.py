"""A streaming multipart/form-data reader for the RPC server (uploads of any size, one chunk in memory).

`email`/`cgi` parse whole bodies into memory; `ipfs add` of a 64 MB file must not. Each part exposes its
headers and a `read(n)` that stops at the next boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol
from urllib.parse import unquote

from fluence_dao.errors import IpfsError

_READ = 1 << 16


class ByteStream(Protocol):
    """What the readers read from: a request's `rfile`, or another reader (`readline` only for chunked)."""

    def read(self, size: int = ..., /) -> bytes: ...

    def readline(self, size: int = ..., /) -> bytes: ...


class ChunkedReader:
    """Decodes an HTTP/1.1 `Transfer-Encoding: chunked` request body."""

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream
        self._left = 0
        self._done = False

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while not self._done and (size < 0 or len(out) < size):
            if self._left == 0:
                line = self._stream.readline(1024)
                try:
                    self._left = int(line.split(b";")[0].strip(), 16)
                except ValueError as err:
                    raise IpfsError(f"bad chunk header {line[:40]!r} in request body") from err
                if self._left == 0:
                    while self._stream.readline(1024).strip():  # trailers
                        pass
                    self._done = True
                    break
            want = self._left if size < 0 else min(self._left, size - len(out))
            piece = self._stream.read(want)
            if not piece:
                raise IpfsError("request body ended inside a chunk")
            out += piece
            self._left -= len(piece)
            if self._left == 0:
                self._stream.readline(8)
        return bytes(out)


class LimitedReader:
    """At most `length` bytes from a stream (a Content-Length body)."""

    def __init__(self, stream: ByteStream, length: int) -> None:
        self._stream = stream
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size < 0 else min(size, self._left)
        data: bytes = self._stream.read(want)
        self._left -= len(data)
        return data


class Part:
    def __init__(self, reader: MultipartReader, headers: dict[str, str]) -> None:
        self._reader = reader
        self.headers = headers
        self.content_type = headers.get("content-type", "application/octet-stream").split(";")[0].strip()
        self.filename = unquote(_disposition_param(headers.get("content-disposition", ""), "filename") or "")
        self.name = _disposition_param(headers.get("content-disposition", ""), "name") or ""

    def read(self, size: int = -1) -> bytes:
        return self._reader._read_body(size)


def _disposition_param(header: str, key: str) -> str | None:
    for item in header.split(";")[1:]:
        name, _, value = item.strip().partition("=")
        if name.strip().lower() == key:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1].replace('\\"', '"')
            return value
    return None


class MultipartReader:
    def __init__(self, stream: object, boundary: str) -> None:
        self._stream = stream
        self._delimiter = b"\r\n--" + boundary.encode("latin-1")
        self._buffer = bytearray(b"\r\n")  # so the first boundary matches the delimiter
        self._eof = False
        self._in_body = False
        self._finished = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._stream.read(_READ)  # type: ignore[attr-defined]
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    def _read_body(self, size: int) -> bytes:
        if not self._in_body:
            return b""
        out = bytearray()
        while size < 0 or len(out) < size:
            index = self._buffer.find(self._delimiter)
            if index >= 0:
                take = index if size < 0 else min(index, size - len(out))
                out += self._buffer[:take]
                del self._buffer[:take]
                if take == index:
                    self._in_body = False
                    break
                continue
            safe = len(self._buffer) - len(self._delimiter)
            if safe > 0:
                take = safe if size < 0 else min(safe, size - len(out))
                out += self._buffer[:take]
                del self._buffer[:take]
                if size >= 0 and len(out) >= size:
                    break
            if not self._fill():
                raise IpfsError("multipart body ended before its closing boundary")
        return bytes(out)

    def parts(self) -> Iterator[Part]:
        while not self._finished:
            while self._in_body:  # skip what the caller did not read
                self._read_body(_READ)
            while len(self._buffer) < len(self._delimiter) + 2:
                if not self._fill():
                    raise IpfsError("multipart body ended before its closing boundary")
            if not self._buffer.startswith(self._delimiter):
                index = self._buffer.find(self._delimiter)
                if index < 0:
                    raise IpfsError("multipart body has no boundary")
                del self._buffer[:index]
                continue
            del self._buffer[: len(self._delimiter)]
            if self._buffer[:2] == b"--":
                self._finished = True
                return
            headers = self._read_headers()
            self._in_body = True
            yield Part(self, headers)

    def _read_headers(self) -> dict[str, str]:
        while b"\r\n\r\n" not in self._buffer:
            if len(self._buffer) > 65536 or not self._fill():
                raise IpfsError("multipart part headers are missing or too long")
        head, _, _ = self._buffer.partition(b"\r\n\r\n")
        del self._buffer[: len(head) + 4]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        return headers
