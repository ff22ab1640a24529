"""Loopback feed server for benchmarks: ETag/Last-Modified, gzip, request and 304 counts.

Run as its own process so it does not share a GIL with what is measured:
    python -m benchmarks.server --entries 20 --feeds 1000   (prints the port, then serves /feed/<n>)
GET /__stats returns {"requests": .., "not_modified": .., "bytes": ..}; POST-free by design.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchmarks.feeds import feed_kind, render_feed

LAST_MODIFIED = "Sun, 22 Nov 2026 08:00:00 GMT"


def make_server(entries: int, port: int = 0, feeds: int = 0) -> ThreadingHTTPServer:
    """A server for /feed/<n>; the first `feeds` feeds are rendered and compressed up front, so
    the timed runs measure serving them, not making them."""
    cache: dict[int, tuple[bytes, bytes, str, str]] = {}
    lock = threading.Lock()
    stats = {"requests": 0, "not_modified": 0, "bytes": 0, "conditional": 0}

    def feed(n: int) -> tuple[bytes, bytes, str, str]:
        hit = cache.get(n)
        if hit is None:
            body, ctype = render_feed(feed_kind(n), n, entries)
            hit = (body, gzip.compress(body, 6), ctype, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')
            with lock:
                cache[n] = hit
        return hit

    for n in range(feeds):
        feed(n)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/__stats":
                self._send(200, json.dumps(stats).encode(), {"Content-Type": "application/json"})
                return
            if not self.path.startswith("/feed/"):
                self._send(404, b"", {})
                return
            n = int(self.path.rsplit("/", 1)[1])
            body, gz, ctype, etag = feed(n)
            with lock:
                stats["requests"] += 1
                if self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"):
                    stats["conditional"] += 1
            if self.headers.get("If-None-Match") == etag or self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                with lock:
                    stats["not_modified"] += 1
                self._send(304, b"", {"ETag": etag, "Last-Modified": LAST_MODIFIED})
                return
            headers = {"Content-Type": ctype, "ETag": etag, "Last-Modified": LAST_MODIFIED}
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                headers["Content-Encoding"] = "gzip"
                body = gz
            with lock:
                stats["bytes"] += len(body)
            self._send(200, body, headers)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            # Headers and body leave in one write: two small writes on a keep-alive connection
            # meet Nagle's algorithm and the client's delayed ACK, ~40 ms a response.
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self._headers_buffer.append(b"\r\n")
            self.wfile.write(b"".join(self._headers_buffer) + body)
            self._headers_buffer = []

        def log_message(self, *args) -> None:
            pass

    server = _Server(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # a cold run opens many connections at once


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=20)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--feeds", type=int, default=0, help="render this many feeds before serving")
    args = ap.parse_args()
    server = make_server(args.entries, args.port, args.feeds)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
