"""`fluence-dao dashboard`: a local, read-only web page on 127.0.0.1 over the peer, the chain and IPFS.

The signer (address, peer, service, balance, whether it controls its ENS name), each interval's runs as a
timeline, the ENS text records with their history, the governed module CIDs and the aggregation tree. Served by
Starlette on uvicorn; the page (static/: plain HTML, CSS and one script, no build step) polls `/api/state`.
A top layer like `cli`: it imports flows, eth, ipfs and peer; nothing imports it. Starlette and uvicorn are
imported here, so the CLI imports this package only inside its command.
"""

from fluence_dao.dashboard._app import create_app
from fluence_dao.dashboard._data import DashboardData, TextHistory, ether, public_url, redact
from fluence_dao.dashboard._server import bind, serve, url_of

__all__ = [
    "DashboardData",
    "TextHistory",
    "bind",
    "create_app",
    "ether",
    "public_url",
    "redact",
    "serve",
    "url_of",
]
