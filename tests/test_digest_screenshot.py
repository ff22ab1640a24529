"""The digest HTML rendered by headless Chromium at desktop and phone widths, light and dark.

Screenshots are kept under test-artifacts/ (gitignored). Chromium comes from
scripts/ensure-chromium (`make test` runs it); without it this test fails under CI=true and
skips elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from reports.render import write_digest
from tests.digest_fixtures import sample_digest
from tests.loopback import LoopbackServer, static
from tests.pngtools import decode_png, make_png, pixel_stats

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
THUMB_RGB = (220, 120, 40)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    reason = "headless Chromium is not installed (run scripts/ensure-chromium, or apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def screenshot(exe: str, page: Path, out: Path, width: int, height: int, profile: Path, *extra: str) -> bytes:
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={out}",
           f"--window-size={width},{height}", *extra, page.as_uri()]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and out.exists(), p.stderr[-2000:]
    return out.read_bytes()


def count_rgb(png: bytes, rgb: tuple[int, int, int]) -> int:
    width, _, bpp, rows = decode_png(png)
    target = bytes(rgb)
    return sum(1 for row in rows for x in range(0, width * bpp, bpp) if row[x:x + 3] == target)


def test_digest_renders_in_headless_chromium_at_desktop_and_phone_widths(tmp_path):
    exe = chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    thumb = make_png(320, 200, THUMB_RGB)
    routes = {f"/img/{n}.png": static(thumb, "image/png") for n in ("lantern", "hike", "climb")}
    with LoopbackServer(routes) as srv:
        html_path, _ = write_digest(sample_digest(srv.base), tmp_path / "out")
        shots = {}
        for name, (w, h), extra in (("desktop", (1200, 1400), ()), ("phone", (390, 1400), ()),
                                    ("phone-dark", (390, 900), ("--force-dark-mode",))):
            png = screenshot(exe, html_path, tmp_path / f"{name}.png", w, h, tmp_path / f"profile-{name}", *extra)
            shutil.copyfile(tmp_path / f"{name}.png", ARTIFACTS / f"digest-{name}.png")
            shots[name] = png
            width, height, differ = pixel_stats(png)
            assert (width, height) == (w, h)
            # Not blank: text, cards and thumbnails cover a real share of the page.
            assert differ > 0.05 * width * height, (name, differ)
        assert srv.hits("/img/hike.png"), "Chromium did not load the thumbnails"
    # The thumbnails actually drew (96x96 on disk, 72px wide on a phone).
    assert count_rgb(shots["desktop"], THUMB_RGB) > 2000
    assert count_rgb(shots["phone"], THUMB_RGB) > 1000
    # Light mode has a light page; the dark-mode media query turns it dark.
    light = decode_png(shots["phone"])[3][5][:3]
    dark = decode_png(shots["phone-dark"])[3][5][:3]
    assert sum(light) > 600 and sum(dark) < 150, (light, dark)
