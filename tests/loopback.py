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


class TunnelProxy:
    """An HTTP proxy on 127.0.0.1 that answers CONNECT only, as corporate proxies carry https:
    whatever host:port the client names, the tunnel leads to `upstream` (a loopback server), so
    nothing leaves the machine. `seen` logs each CONNECT's (target, headers); with `require` set
    (a Proxy-Authorization value), a CONNECT without it gets 407."""

    def __init__(self, upstream: tuple[str, int], require: str | None = None, timeout_s: float = 5.0):
        import socket
        import socketserver

        self.seen: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                client = self.request
                client.settimeout(timeout_s)
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = client.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
                method, target = (lines[0].split(" ") + ["", ""])[:2]
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                outer.seen.append((target, headers))
                if method != "CONNECT":
                    client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                    return
                if require is not None and headers.get("proxy-authorization") != require:
                    client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                   b"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
                    return
                with socket.create_connection(upstream, timeout=timeout_s) as far:
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    pump = threading.Thread(target=_pipe, args=(far, client), daemon=True)
                    pump.start()
                    _pipe(client, far)
                    pump.join(timeout_s)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "TunnelProxy":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _pipe(src, dst) -> None:
    """Copy bytes from one socket to the other until either side closes (or times out)."""
    import socket

    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
