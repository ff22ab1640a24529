"""Loopback feed server for benchmarks: ETag/Last-Modified, gzip, request and 304 counts.

Run as its own process so it does not share a GIL with what is measured:
    python -m benchmarks.server --entries 20 --feeds 1000   (prints the port, then serves /feed/<n>)
GET /__stats returns {"requests": .., "not_modified": .., "bytes": .., "conditional": ..}.

One asyncio event loop, like a static-file server that keeps its files' validators in memory:
every request is parsed and its validators compared, but each feed's three answers (the body,
gzipped or not, and a 304) are built once. A thread per connection and http.server's header
parsing cost ~150 us of CPU a request, as much as the client being measured on the same two
cores; this costs a fraction of that.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import sys

from benchmarks.feeds import feed_kind, render_feed

LAST_MODIFIED = "Sun, 22 Nov 2026 08:00:00 GMT"
MAX_HEAD = 64 * 1024  # a request head longer than this is refused


def answer(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """One whole HTTP/1.1 response: headers and body leave in one write (two small writes on a
    keep-alive connection meet Nagle's algorithm and the client's delayed ACK, ~40 ms each)."""
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Content-Length": str(len(body))}.items())
    return f"HTTP/1.1 {status}\r\n{head}\r\n".encode("latin-1") + body


class FeedServer:
    """Answers for /feed/<n> (the first `feeds` made up front, the rest when first asked for)."""

    def __init__(self, entries: int, feeds: int = 0):
        self.entries = entries
        self.cache: dict[int, tuple[str, bytes, bytes, bytes, int, int]] = {}
        self.stats = {"requests": 0, "not_modified": 0, "bytes": 0, "conditional": 0}
        for n in range(feeds):
            self.feed(n)

    def feed(self, n: int) -> tuple[str, bytes, bytes, bytes, int, int]:
        """(etag, plain 200, gzip 200, 304, plain body size, gzip body size) of feed n."""
        hit = self.cache.get(n)
        if hit is None:
            body, ctype = render_feed(feed_kind(n), n, self.entries)
            gz = gzip.compress(body, 6)
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            validators = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
            hit = self.cache[n] = (
                etag, answer("200 OK", {"Content-Type": ctype, **validators}, body),
                answer("200 OK", {"Content-Type": ctype, **validators, "Content-Encoding": "gzip"}, gz),
                answer("304 Not Modified", validators), len(body), len(gz))
        return hit

    def respond(self, target: str, headers: dict[str, str]) -> bytes:
        if target == "/__stats":
            return answer("200 OK", {"Content-Type": "application/json"}, json.dumps(self.stats).encode())
        number = target[len("/feed/"):] if target.startswith("/feed/") else ""
        if not number.isdigit():
            return answer("404 Not Found", {})
        etag, plain, zipped, not_modified, plain_size, gz_size = self.feed(int(number))
        self.stats["requests"] += 1
        if "if-none-match" in headers or "if-modified-since" in headers:
            self.stats["conditional"] += 1
        if headers.get("if-none-match") == etag or headers.get("if-modified-since") == LAST_MODIFIED:
            self.stats["not_modified"] += 1
            return not_modified
        if "gzip" in headers.get("accept-encoding", ""):
            self.stats["bytes"] += gz_size
            return zipped
        self.stats["bytes"] += plain_size
        return plain


class _Connection(asyncio.Protocol):
    """One keep-alive connection: answers each GET head as it completes, in order."""

    def __init__(self, server: FeedServer):
        self.server, self.buffer, self.transport = server, b"", None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4:]
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if len(parts) != 3 or parts[0] != "GET":
                self.transport.write(answer("400 Bad Request", {"Connection": "close"}))
                self.transport.close()
                return
            self.transport.write(self.server.respond(parts[1], headers))
            if headers.get("connection", "").lower() == "close" or parts[2] == "HTTP/1.0":
                self.transport.close()
                return
        if len(self.buffer) > MAX_HEAD:
            self.transport.close()


async def serve(entries: int, port: int = 0, feeds: int = 0) -> None:
    feed_server = FeedServer(entries, feeds)  # made before the port is printed: runs time serving
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(feed_server), "127.0.0.1", port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=20)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--feeds", type=int, default=0, help="render this many feeds before serving")
    args = ap.parse_args()
    try:
        asyncio.run(serve(args.entries, args.port, args.feeds))
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
