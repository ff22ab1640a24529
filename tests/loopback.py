"""A real HTTP server on 127.0.0.1 for tests: routes are plain functions, requests are logged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from guanxi.demo import QuietHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0        # before the status line
    drip_s: float = 0.0         # between body chunks (slow-drip servers)
    chunk: int = 65536


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    client: tuple = ()  # the client's (address, port): one per connection


Route = Callable[[Seen], Reply]


class LoopbackServer:
    """Serve `routes` (path -> function) on an ephemeral loopback port; `seen` logs requests."""

    def __init__(self, routes: dict[str, Route] | None = None):
        self.routes: dict[str, Route] = dict(routes or {})
        self.seen: list[Seen] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                req = Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, self.client_address)
                outer.seen.append(req)
                route = outer.routes.get(self.path.split("?", 1)[0])
                reply = route(req) if route else Reply(404, b"not found")
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Length": str(len(reply.body)), **reply.headers}
                    for k, v in headers.items():
                        if v is not None:  # None drops a default header (e.g. chunked bodies)
                            self.send_header(k, v)
                    self.end_headers()
                    for i in range(0, len(reply.body), reply.chunk):
                        self.wfile.write(reply.body[i:i + reply.chunk])
                        self.wfile.flush()
                        if reply.drip_s:
                            time.sleep(reply.drip_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"

    def use_tls(self, context) -> "LoopbackServer":
        """Serve https with this server-side TLS context (call before entering)."""
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.base = "https" + self.base[len("http"):]
        return self

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path.split("?", 1)[0] == path]

    def __enter__(self) -> "LoopbackServer":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def static(body: bytes | str, content_type: str = "application/rss+xml; charset=utf-8",
           etag: str | None = None, last_modified: str | None = None, **extra) -> Route:
    """A route that serves fixed bytes and honours If-None-Match / If-Modified-Since."""
    data = body.encode("utf-8") if isinstance(body, str) else body

    def route(req: Seen) -> Reply:
        headers = {"Content-Type": content_type, **extra}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = last_modified
        if (etag and req.headers.get("if-none-match") == etag) or (
                last_modified and req.headers.get("if-modified-since") == last_modified):
            return Reply(304, b"", {k: v for k, v in headers.items() if k != "Content-Type"})
        return Reply(200, data, headers)

    return route
