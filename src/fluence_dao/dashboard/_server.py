"""Serving the dashboard on 127.0.0.1 with uvicorn, on a socket bound first so the URL is known before serving."""

from __future__ import annotations

import socket

from starlette.applications import Starlette

from fluence_dao.errors import ConfigError
from fluence_dao.util.net import LOOPBACK, bind_loopback


def bind(port: int) -> socket.socket:
    """A TCP socket bound to 127.0.0.1:`port` (0: a free port). ConfigError naming the port when it is taken."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is not a TCP port: pass --port between 0 and 65535", port=port)
    try:
        return bind_loopback(port)
    except OSError as err:
        raise ConfigError(
            f"cannot listen on {LOOPBACK}:{port}: {err.strerror or err}; pass another --port, or --port 0 for a free one",
            port=port,
        ) from err


def url_of(sock: socket.socket) -> str:
    return f"http://{LOOPBACK}:{sock.getsockname()[1]}/"


def serve(app: Starlette, sock: socket.socket) -> None:
    """Serve `app` on `sock` until SIGINT/SIGTERM (uvicorn re-raises the signal once it has shut down)."""
    import uvicorn

    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    uvicorn.Server(config).run(sockets=[sock])
