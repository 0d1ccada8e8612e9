"""Serve a subgraph's GraphQL API on 127.0.0.1 while its indexer follows the chain in a background thread.

POST /subgraphs/name/<name> (graph-node's path), /subgraphs/id/<deployment> or /graphql with
{"query", "variables", "operationName"}; GET /status returns the indexing status as JSON.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fluence_dao.errors import SubgraphError
from fluence_dao.subgraph._graphql import SubgraphMeta, SubgraphSchema
from fluence_dao.subgraph._indexer import Indexer
from fluence_dao.util.json_types import JsonValue
from fluence_dao.util.net import LOOPBACK

log = logging.getLogger(__name__)


def meta_of(indexer: Indexer) -> SubgraphMeta:
    cursor = indexer.store.cursor()
    return {
        "deployment": indexer.deployment,
        "block": None if cursor is None else {"number": cursor.number, "hash": cursor.hash},
        "has_errors": indexer.store.error() is not None,
    }


MAX_BODY_BYTES = 256 * 1024  # one GraphQL request; anyone on the machine may send one
REQUEST_TIMEOUT_S = 10.0


class SubgraphServer:
    def __init__(self, indexer: Indexer, port: int = 0, index: bool = True) -> None:
        self.indexer = indexer

        def block_hash(number: int) -> str | None:
            block = indexer.rpc.block(number)
            return None if block is None else str(block["hash"])

        self.schema = SubgraphSchema(indexer.schema, indexer.store, lambda: meta_of(indexer), block_hash)
        self._stop = threading.Event()
        self._index = index
        schema = self.schema

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # one small JSON reply: no 40 ms delayed-ACK stalls
            timeout = REQUEST_TIMEOUT_S  # a client that sends nothing (slowloris) loses its connection

            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("graphql: " + fmt, *args)

            def _reply(self, status: int, body: JsonValue) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/") in ("/status", ""):
                    self._reply(200, indexer.status())
                else:
                    self._reply(404, {"errors": [{"message": f"no route {self.path}: POST GraphQL to /graphql"}]})

            def do_POST(self) -> None:
                if not (self.path.startswith("/subgraphs/") or self.path.rstrip("/") in ("/graphql", "")):
                    self._reply(404, {"errors": [{"message": f"no route {self.path}"}]})
                    return
                try:
                    length = int(self.headers.get("Content-Length", "0"))
                except ValueError:
                    length = -1
                if not 0 <= length <= MAX_BODY_BYTES:
                    self.close_connection = True
                    self._reply(413, {"errors": [{"message": f"the request body must be 0 to {MAX_BODY_BYTES} bytes"}]})
                    return
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    query = body["query"]
                except (ValueError, KeyError, TypeError):
                    self._reply(400, {"errors": [{"message": "The request body must be JSON with a `query` string"}]})
                    return
                self._reply(200, schema.execute(query, body.get("variables"), body.get("operationName")))

        try:
            self._httpd = ThreadingHTTPServer((LOOPBACK, port), Handler)
        except OSError as err:
            raise SubgraphError(
                f"cannot serve GraphQL on {LOOPBACK}:{port}: {err.strerror or err} (pick another --port, or 0 for any "
                "free one)",
                port=port,
            ) from err
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/subgraphs/name/{self.indexer.manifest.directory.parent.name}"

    def start(self) -> SubgraphServer:
        serve = threading.Thread(target=self._httpd.serve_forever, name="subgraph-graphql", daemon=True)
        serve.start()
        self._threads.append(serve)
        if self._index:
            index = threading.Thread(
                target=self.indexer.run_forever, args=(self._stop,), name="subgraph-indexer", daemon=True
            )
            index.start()
            self._threads.append(index)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        for t in self._threads:
            t.join(timeout=10)

    def __enter__(self) -> SubgraphServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
