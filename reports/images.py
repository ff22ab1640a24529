"""Thumbnails for the email: fetched at send time and embedded as inline (cid:) parts.

Many platforms (Weibo, WeChat, Bilibili, Xiaohongshu) refuse an image unless the request
carries their own Referer, and remote images are a privacy leak anyway. So the email never
loads anything remote: each image is fetched once with the platform Referer, checked to be a
real raster image under a size cap, and attached; an image that fails is simply left out.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from connectors.http import FetchLimits, FetchRequest, PLATFORM_REFERERS, referer_for, run_fetches

MAX_IMAGE_BYTES = 2 * 2**20      # per image; a thumbnail never needs more
MAX_TOTAL_BYTES = 8 * 2**20      # per email, so a digest stays well under provider limits
THUMB_BOX = 96                   # px: thumbnails fit inside a THUMB_BOX square


@dataclass(frozen=True, slots=True)
class InlineImage:
    url: str          # where it came from (the key the templates look up)
    cid: str          # Content-ID without angle brackets
    subtype: str      # jpeg | png | gif | webp
    data: bytes
    width: int        # display size inside the THUMB_BOX, aspect ratio kept
    height: int

    @property
    def src(self) -> str:
        return f"cid:{self.cid}"

    @property
    def data_uri(self) -> str:
        """The image inside the page itself (a file on disk has no MIME parts to point at)."""
        return f"data:image/{self.subtype};base64,{base64.b64encode(self.data).decode('ascii')}"


def sniff(data: bytes) -> tuple[str, int, int] | None:
    """(subtype, width, height) of a JPEG, PNG, GIF or WebP from its bytes; None otherwise.

    The server's Content-Type is not trusted: SVG (which can carry script) and HTML error
    pages served as image/jpeg are both refused here.
    """
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            w, h = struct.unpack(">II", data[16:24])
            return "png", w, h
        if data[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", data[6:10])
            return "gif", w, h
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
        if data[:3] == b"\xff\xd8\xff":
            return _jpeg(data)
    except struct.error:
        return None
    return None


def _webp(data: bytes) -> tuple[str, int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return "webp", w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        b = data[21:25]
        w = 1 + (((b[1] & 0x3F) << 8) | b[0])
        h = 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
        return "webp", w, h
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(data[24:27], "little")
        h = 1 + int.from_bytes(data[27:30], "little")
        return "webp", w, h
    return None


def _jpeg(data: bytes) -> tuple[str, int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return "jpeg", w, h
        i += 2 + length
    return None


def fit(width: int, height: int, box: int = THUMB_BOX) -> tuple[int, int]:
    """Scale (width, height) down to fit a box x box square, keeping the aspect ratio."""
    if width <= 0 or height <= 0:
        return box, box
    scale = min(1.0, box / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def content_id(url: str) -> str:
    return f"img-{hashlib.sha256(url.encode()).hexdigest()[:16]}@guanxi"


def fetch_inline_images(urls: Iterable[str | None], *, timeout_s: float = 15.0,
                        max_bytes: int = MAX_IMAGE_BYTES, max_total: int = MAX_TOTAL_BYTES,
                        referers: dict[str, str] = PLATFORM_REFERERS,
                        user_agent: str = "Guanxi/0.1") -> dict[str, InlineImage]:
    """Fetch each http(s) image once (with its platform's Referer); return those that worked."""
    from reports.render import safe_url

    wanted = list(dict.fromkeys(u for u in (safe_url(x) for x in urls) if u))
    if not wanted:
        return {}
    requests = []
    for url in wanted:
        headers = [("Accept", "image/avif,image/webp,image/png,image/jpeg,image/gif;q=0.9,*/*;q=0.5")]
        if referer := referer_for(url, referers):
            headers.append(("Referer", referer))
        requests.append(FetchRequest(url, headers=tuple(headers)))
    limits = FetchLimits(connect_s=min(5.0, timeout_s), read_s=timeout_s, total_s=timeout_s,
                         max_bytes=max_bytes, concurrency=8, per_host=4, user_agent=user_agent)
    out: dict[str, InlineImage] = {}
    total = 0
    for url, res in zip(wanted, run_fetches(requests, limits)):
        if not res.ok or not res.body:
            continue
        kind = sniff(res.body)
        if kind is None or total + len(res.body) > max_total:
            continue
        total += len(res.body)
        w, h = fit(kind[1], kind[2])
        out[url] = InlineImage(url=url, cid=content_id(url), subtype=kind[0], data=res.body,
                               width=w, height=h)
    return out
