"""One shared, polite HTTP client for a run: conditional GET, limits, manual redirects.

Everything a fetch learns (status, validators, redirects, errors) comes back as data in a
`FetchResult`; nothing here raises for a bad server. Bodies are bytes: parsing is elsewhere.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import re
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import aiohttp

MAX_REDIRECTS = 10
PERMANENT = {301, 308}
TEMPORARY = {302, 303, 307}


@dataclass(frozen=True, slots=True)
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class FetchResult:
    """What happened to one request. `error` is one line starting with "fetch:"."""

    url: str
    final_url: str
    status_code: int | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    not_modified: bool = False
    error: str | None = None
    permanent_redirect: bool = False  # every hop to final_url was 301/308
    retry_after_s: float | None = None
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and (self.not_modified or self.body is not None)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass(frozen=True, slots=True)
class FetchLimits:
    connect_s: float = 10.0
    read_s: float = 20.0
    total_s: float = 60.0
    max_bytes: int = 15 * 2**20
    concurrency: int = 32
    per_host: int = 4
    user_agent: str = "Guanxi/0.1"


class BodyTooLarge(Exception):
    pass


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now_dt = datetime.fromtimestamp(now if now is not None else time.time(), timezone.utc)
    return max(0.0, (when - now_dt).total_seconds())


class _Decoder:
    """Incremental gzip/deflate/br decoder that enforces a cap on decompressed bytes."""

    def __init__(self, encoding: str, cap: int):
        self.cap, self.size, self.parts = cap, 0, []
        enc = encoding.strip().lower()
        self._zlib = enc in ("gzip", "x-gzip", "deflate")
        if enc in ("gzip", "x-gzip"):
            self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._d = zlib.decompressobj()
        elif enc == "br":
            import brotli  # only needed when a server sends brotli
            self._d = brotli.Decompressor()
        else:
            self._d = None

    def feed(self, chunk: bytes) -> None:
        if self._d is None:
            out = chunk
        elif self._zlib:
            # Bound each step's output so a bomb cannot allocate far past the cap.
            out = self._d.decompress(chunk, self.cap - self.size + 1)
            while self._d.unconsumed_tail and self.size + len(out) <= self.cap:
                out += self._d.decompress(self._d.unconsumed_tail, self.cap - self.size - len(out) + 1)
        else:
            out = self._d.process(chunk)
        self.size += len(out)
        if self.size > self.cap:
            raise BodyTooLarge
        self.parts.append(out)

    def result(self) -> bytes:
        return b"".join(self.parts)


_TLS: list = []  # the process's one TLS context (see tls_context)


def tls_context():
    """The certificate-verifying TLS context (certifi's CA bundle) every client of this process
    shares, made at its first https request: loading the bundle costs ~40 ms of CPU."""
    if not _TLS:
        import ssl

        import certifi

        _TLS.append(ssl.create_default_context(cafile=certifi.where()))
    return _TLS[0]


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def env_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """The proxies the environment names, by scheme ("http", "https", "no"): `http_proxy`,
    `https_proxy`, `no_proxy` in either case, lower case winning (as curl and urllib read them)."""
    proxies: dict[str, str] = {}
    for key in sorted(environ, key=str.islower):  # upper-case names first, so lower case wins
        if key.lower() in ("http_proxy", "https_proxy", "no_proxy") and environ[key]:
            proxies[key[:-6].lower()] = environ[key]
    return proxies


def proxy_for(url: str, proxies: Mapping[str, str]) -> str | None:
    """The proxy a request to `url` goes through (see env_proxies), or None to connect directly:
    when none is set for its scheme, when `no_proxy` names its host (urllib's matching), and
    always for loopback, so a local RSSHub is never sent through a proxy. Only HTTP proxies
    (aiohttp tunnels https through them with CONNECT); a socks:// one is ignored."""
    parts = urlsplit(url)
    proxy = proxies.get(parts.scheme.lower())
    if not proxy or proxy.split("://", 1)[0].lower() not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower()
    if not host or host in _LOOPBACK or host.startswith("127."):
        return None
    from urllib.request import proxy_bypass_environment

    return None if proxy_bypass_environment(host, proxies) else proxy


# Our errors keep the names they had under httpx ("fetch: ConnectError: ..."), whatever the
# client library, so stored errors and the sources that report them read the same.
_ERROR_NAMES = (
    (aiohttp.ClientConnectorError, "ConnectError"),  # refused, DNS, TLS and certificates
    (aiohttp.InvalidURL, "InvalidURL"),
    ((aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError),
     "RemoteProtocolError"),                           # a broken or truncated answer
    (aiohttp.ClientOSError, "ReadError"),
)


def _error_name(exc: BaseException) -> str:
    return next((name for kind, name in _ERROR_NAMES if isinstance(exc, kind)), type(exc).__name__)


MAX_HEADER_BYTES = 16 * 1024  # the longest status or header line an answer may have


class Fetcher:
    """An async HTTP client shared by a whole run, with global and per-host concurrency caps.

    One aiohttp session: its C parser and its connection pool (idle connections kept per
    host) cost about a seventh of the CPU per request that httpx did (a re-check of 1,000 feeds,
    all 304: ~0.15 against ~1.1 CPU-s). A request waits for a slot in our own semaphores, so
    that the total deadline starts only when it is sent; the pool itself is unbounded.
    """

    def __init__(self, limits: FetchLimits = FetchLimits()):
        self.limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._global = asyncio.Semaphore(limits.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        # Read here, not by aiohttp (trust_env would also read ~/.netrc: no credentials from files).
        self._proxies = env_proxies(os.environ)

    async def __aenter__(self) -> "Fetcher":
        lim = self.limits
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=lim.connect_s, sock_read=lim.read_s),
            headers={"User-Agent": lim.user_agent,
                     "Accept": "application/atom+xml, application/rss+xml, application/feed+json, "
                               "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
                     # We decode ourselves so the size cap applies to decompressed bytes.
                     "Accept-Encoding": "gzip, deflate, br"},
            auto_decompress=False,
            trust_env=False,
            max_line_size=MAX_HEADER_BYTES,
            max_field_size=MAX_HEADER_BYTES,
        )
        return self

    async def __aexit__(self, *exc) -> None:
        if self._session is not None:
            await self._session.close()

    def _host_sem(self, host: str) -> asyncio.Semaphore:
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.limits.per_host)
        return sem

    async def fetch_many(self, requests: Sequence[FetchRequest]) -> list[FetchResult]:
        return list(await asyncio.gather(*(self.fetch(r) for r in requests)))

    async def fetch(self, req: FetchRequest) -> FetchResult:
        start = time.monotonic()
        async with self._global:
            result = await self._fetch(req)
        result.elapsed_s = time.monotonic() - start
        return result

    async def _fetch(self, req: FetchRequest) -> FetchResult:
        assert self._session is not None, "use the Fetcher in an async with block"
        url, permanent = req.url, True
        headers = dict(req.headers)
        if req.etag:
            headers["If-None-Match"] = req.etag
        if req.last_modified:
            headers["If-Modified-Since"] = req.last_modified
        deadline = None  # the total deadline runs from the first request sent, not while queued here
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                parts = urlsplit(url)
            except ValueError as exc:  # e.g. a Location with a broken IPv6 host
                return FetchResult(req.url, url, error=f"fetch: InvalidURL: {_one_line(exc)}")
            if parts.scheme.lower() not in ("http", "https"):
                return FetchResult(req.url, url, error=f"fetch: refused non-http(s) URL {url[:200]}")
            try:
                async with self._host_sem(parts.netloc.lower()):
                    deadline = deadline or asyncio.get_running_loop().time() + self.limits.total_s
                    async with asyncio.timeout_at(deadline):
                        resp_or_result = await self._one(req.url, url, headers, parts.scheme.lower() == "https")
            except aiohttp.ServerTimeoutError as exc:  # before TimeoutError: it is one too
                kind = "connect" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "read"
                return FetchResult(req.url, url, error=f"fetch: {kind} timeout at {url[:200]}")
            except TimeoutError:
                return FetchResult(req.url, url,
                                   error=f"fetch: gave up after {self.limits.total_s:g} s (total deadline)")
            except (aiohttp.ClientError, ValueError, OSError) as exc:
                # ValueError: a header or URL the client refuses to send.
                return FetchResult(req.url, url, error=f"fetch: {_error_name(exc)}: {_one_line(exc)}")
            if isinstance(resp_or_result, FetchResult):
                resp_or_result.permanent_redirect = permanent and resp_or_result.final_url != req.url
                return resp_or_result
            status, location = resp_or_result
            if not location:
                return FetchResult(req.url, url, status_code=status,
                                   error=f"fetch: HTTP {status} redirect without Location")
            permanent = permanent and status in PERMANENT
            try:
                url = urljoin(url, location)
            except ValueError as exc:
                return FetchResult(req.url, url, error=f"fetch: InvalidURL: {_one_line(exc)}")
        return FetchResult(req.url, url, error=f"fetch: more than {MAX_REDIRECTS} redirects")

    async def _one(self, original: str, url: str, headers: dict[str, str], https: bool):
        """One request; returns (status, location) for a redirect, else a FetchResult."""
        cap = self.limits.max_bytes
        async with self._session.get(url, headers=headers, allow_redirects=False,
                                     proxy=proxy_for(url, self._proxies) if self._proxies else None,
                                     ssl=tls_context() if https else True) as resp:
            status = resp.status
            hdrs = _headers(resp)
            if status in PERMANENT | TEMPORARY or status == 304 or status >= 400:
                await _drain(resp)
            if status in PERMANENT | TEMPORARY:
                return status, hdrs.get("location")
            if status == 304:
                return FetchResult(original, url, status_code=304, headers=hdrs, not_modified=True)
            if status >= 400:
                res = FetchResult(original, url, status_code=status, headers=hdrs,
                                  error=f"fetch: HTTP {status} {resp.reason or ''}".rstrip())
                if status in (429, 503):
                    res.retry_after_s = parse_retry_after(hdrs.get("retry-after"))
                return res
            declared = hdrs.get("content-length")
            if declared and declared.isdigit() and int(declared) > cap:
                return FetchResult(original, url, status_code=status, headers=hdrs,
                                   error=f"fetch: body of {int(declared)} bytes exceeds the {cap}-byte cap")
            decoder = _Decoder(hdrs.get("content-encoding", ""), cap)
            raw = 0
            try:
                async for chunk in resp.content.iter_any():
                    raw += len(chunk)
                    if raw > cap:
                        raise BodyTooLarge
                    decoder.feed(chunk)
            except BodyTooLarge:
                return FetchResult(original, url, status_code=status, headers=hdrs,
                                   error=f"fetch: body exceeds the {cap}-byte cap")
            except (aiohttp.ClientError, TimeoutError):
                raise
            except Exception as exc:  # zlib.error, brotli.error: no common base class
                return FetchResult(original, url, status_code=status, headers=hdrs,
                                   error=f"fetch: cannot decode {hdrs.get('content-encoding')} body: {_one_line(exc)}")
            return FetchResult(original, url, status_code=status, headers=hdrs, body=decoder.result())


def _headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    """The answer's headers by lower-case name; a repeated header's values joined by ", "."""
    out: dict[str, str] = {}
    for k, v in resp.headers.items():
        k = k.lower()
        if not v.isascii():
            v = _header_text(v)
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def _header_text(value: str) -> str:
    """A header value as UTF-8 text if its bytes are UTF-8, else as Latin-1: never with the
    lone surrogates aiohttp decodes other bytes to (no store or encoder takes those)."""
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


DRAIN_BYTES = 64 * 1024  # the most of an unneeded body read just to keep its connection


async def _drain(resp: aiohttp.ClientResponse) -> None:
    """Read and drop a body we do not use (a redirect's or an error page), so its keep-alive
    connection goes back to the pool: a connection whose answer was not read to the end is
    closed. A body longer than DRAIN_BYTES, or one that fails, is left: its connection is
    closed."""
    seen = 0
    try:
        async for chunk in resp.content.iter_any():
            seen += len(chunk)
            if seen > DRAIN_BYTES:
                return
    except (aiohttp.ClientError, TimeoutError):
        return


# user:password@ in a URL (a proxy's, say): never into an error, which is stored and shown.
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return _USERINFO.sub("***@", text.splitlines()[0])[:300]


def run_fetches(requests: Sequence[FetchRequest], limits: FetchLimits = FetchLimits()) -> list[FetchResult]:
    """Fetch many URLs concurrently on one client, from synchronous code."""

    async def go() -> list[FetchResult]:
        async with Fetcher(limits) as f:
            return await f.fetch_many(requests)

    return asyncio.run(go())


# Image hosts that refuse hotlinking unless the request carries their own platform's Referer.
PLATFORM_REFERERS: dict[str, str] = {
    "sinaimg.cn": "https://weibo.com/",
    "mmbiz.qpic.cn": "https://mp.weixin.qq.com/",
    "hdslb.com": "https://www.bilibili.com/",
    "xhscdn.com": "https://www.xiaohongshu.com/",
}


def referer_for(url: str, table: dict[str, str] = PLATFORM_REFERERS) -> str | None:
    """The Referer a platform's image host insists on (matched by host suffix), else None."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    for suffix, referer in table.items():
        if host == suffix or host.endswith("." + suffix):
            return referer
    return None
