"""Loopback-only networking helpers."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def bind_loopback(port: int) -> socket.socket:
    """A TCP socket bound to 127.0.0.1:`port` (0: a free port) with SO_REUSEADDR, not yet listening; OSError (the
    socket closed) when the port cannot be bound."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
    except OSError:
        sock.close()
        raise
    return sock


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bind port 0 and let the kernel choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])
