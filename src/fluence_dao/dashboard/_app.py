"""The dashboard's web app (Starlette): one page, its script and style, and two read-only JSON endpoints.

    GET /                 the page (static/index.html)
    GET /static/...       dashboard.js, dashboard.css
    GET /api/state        the latest snapshot (DashboardData.state), refreshed at most every `refresh_s / 2`
    GET /api/tree?cid=&path=   a node of the aggregation tree (default root: the signer name's `ipld-tip`)

Only GET and HEAD are routed. Requests must name the host 127.0.0.1 or localhost (a page elsewhere that
rebinds its own DNS name to 127.0.0.1 gets 400), and the page may load nothing but this server's files.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fluence_dao.dashboard._data import DashboardData
from fluence_dao.errors import FluenceDaoError

STATIC = Path(__file__).resolve().parent / "static"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class _SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(data: DashboardData, *, refresh_s: float = 2.0) -> Starlette:
    """The app over `data`; the page polls /api/state every `refresh_s` seconds."""

    def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    def api_state(request: Request) -> Response:
        return JSONResponse({**data.state(max_age_s=refresh_s / 2), "refresh_s": refresh_s})

    def api_tree(request: Request) -> Response:
        cid = request.query_params.get("cid", "").strip()
        path = request.query_params.get("path", "").strip()
        try:
            return JSONResponse(data.tree(cid, path))
        except FluenceDaoError as err:
            return JSONResponse({"error": err.message, "cid": cid, "path": path}, status_code=404)

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/api/state", api_state, methods=["GET"]),
        Route("/api/tree", api_tree, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [
        Middleware(_SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=ALLOWED_HOSTS),
    ]
    return Starlette(routes=routes, middleware=middleware)
