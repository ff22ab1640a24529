"""Draw the demo's sample thumbnails (guanxi/sample/images/*.png) from code, so they are ours.

Each picture is a small flat illustration of its post (a loaf, a skyline at dusk, a cat, ...),
written as an 8-bit RGB PNG with nothing but the standard library. Run it again after editing a
scene; the output is deterministic:

    .venv/bin/python scripts/make_sample_images.py
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

W, H = 240, 180
OUT = Path(__file__).resolve().parent.parent / "guanxi" / "sample" / "images"
RGB = tuple[int, int, int]


def png(pixel: Callable[[float, float], RGB]) -> bytes:
    """Sample `pixel(x, y)` (both in 0..1) over the canvas and encode the result as a PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(c for x in range(W) for c in pixel(x / W, y / H)) for y in range(H))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def mix(a: RGB, b: RGB, t: float) -> RGB:
    t = min(1.0, max(0.0, t))
    return tuple(round(p + (q - p) * t) for p, q in zip(a, b))  # type: ignore[return-value]


def inside(x: float, y: float, cx: float, cy: float, rx: float, ry: float) -> bool:
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1


def sourdough(x: float, y: float) -> RGB:
    if inside(x, y, .5, .55, .38, .3):
        holes = [(.38, .5, .05, .04), (.55, .45, .07, .05), (.62, .62, .04, .03), (.45, .65, .05, .03)]
        if inside(x, y, .5, .55, .32, .24):
            return (120, 85, 50) if any(inside(x, y, *h) for h in holes) else (238, 214, 170)
        return (150, 90, 40)
    return mix((245, 236, 220), (214, 196, 170), y)


def scheduler_arch(x: float, y: float) -> RGB:
    boxes = [(.08, .15, .32, .35), (.4, .15, .6, .35), (.68, .15, .92, .35), (.3, .62, .7, .85)]
    for x0, y0, x1, y1 in boxes:
        if x0 <= x <= x1 and y0 <= y <= y1:
            edge = min(x - x0, x1 - x, (y - y0) * .75, (y1 - y) * .75) < .012
            return (30, 90, 160) if edge else (214, 230, 248)
    if .49 <= x <= .51 and .35 <= y <= .62 or .2 <= x <= .8 and .47 <= y <= .49 and True:
        return (120, 130, 145)
    if (.19 <= x <= .21 or .79 <= x <= .81) and .35 <= y <= .48:
        return (120, 130, 145)
    return (252, 252, 250)


def mountains(x: float, y: float) -> RGB:
    far = .45 + .12 * math.sin(x * 7 + 1) + .05 * math.sin(x * 19)
    near = .62 + .1 * math.sin(x * 5 + 3) + .04 * math.sin(x * 23)
    if y > near:
        stripe = math.sin(x * 90) > .6
        return (40, 110, 60) if stripe else (56, 132, 74)
    if y > far:
        return (110, 160, 130)
    return mix((150, 200, 240), (225, 238, 248), y / .6)


def promotion(x: float, y: float) -> RGB:
    for i, h in enumerate((.25, .4, .55, .72)):
        x0 = .15 + i * .19
        if x0 <= x <= x0 + .13 and .9 - h <= y <= .9:
            return mix((250, 190, 60), (240, 120, 40), i / 3)
    if .1 <= x <= .9 and .9 <= y <= .91:
        return (230, 230, 240)
    return mix((24, 40, 80), (40, 70, 120), y)


def reeds(x: float, y: float) -> RGB:
    if y > .6:
        if inside(x, y, .65, .72, .14, .03):
            return (90, 60, 40)
        return mix((90, 140, 160), (60, 100, 130), (y - .6) / .4 + .05 * math.sin(x * 60))
    stalk = abs(math.sin(x * 55)) < .08 and y > .3 + .1 * math.sin(x * 13)
    if stalk:
        return (170, 150, 100)
    return mix((235, 225, 200), (200, 215, 225), y / .6)


def bund_dusk(x: float, y: float) -> RGB:
    skyline = [(.05, .45), (.12, .5), (.2, .38), (.27, .52), (.36, .42), (.45, .55), (.55, .3),
               (.62, .47), (.72, .4), (.8, .5), (.9, .44)]
    water = .68
    if y > water:
        yy = 2 * water - y
        base = mix((70, 60, 110), (30, 30, 70), (y - water) / .3)
        if any(abs(x - bx) < .03 and yy > by for bx, by in skyline) and math.sin(y * 200) > 0:
            return mix(base, (240, 180, 90), .4)
        return base
    if any(abs(x - bx) < .03 and y > by for bx, by in skyline):
        lit = math.sin(x * 300) > .7 and math.sin(y * 260) > .5
        return (250, 210, 120) if lit else (40, 35, 70)
    return mix((250, 160, 90), (110, 80, 150), (water - y) / water)


def lantern(x: float, y: float) -> RGB:
    if inside(x, y, .5, .5, .17, .23):
        return mix((255, 200, 80), (230, 90, 40), math.hypot(x - .5, y - .5) / .25)
    if .44 <= x <= .56 and (.25 <= y <= .29 or .71 <= y <= .75):
        return (190, 40, 40)
    if abs(x - .5) < .004 and y < .25:
        return (220, 220, 230)
    return mix((60, 40, 110), (20, 20, 50), y)


def chilli_crab(x: float, y: float) -> RGB:
    if inside(x, y, .5, .55, .25, .17) or inside(x, y, .27, .4, .07, .05) or inside(x, y, .73, .4, .07, .05):
        return (210, 60, 40)
    if inside(x, y, .5, .55, .4, .33):
        return (245, 245, 240)
    return mix((120, 80, 50), (90, 55, 35), y)


def cat(x: float, y: float) -> RGB:
    ears = ((y > .18 and y < .42 and abs(x - .36) < (y - .18) * .6)
            or (y > .18 and y < .42 and abs(x - .64) < (y - .18) * .6))
    if inside(x, y, .5, .58, .22, .27) or ears:
        if inside(x, y, .42, .55, .03, .04) or inside(x, y, .58, .55, .03, .04):
            return (90, 170, 90)
        return (235, 160, 80)
    return mix((250, 240, 225), (225, 205, 185), y)


def bridge(x: float, y: float) -> RGB:
    deck = .5
    if deck <= y <= deck + .04:
        return (150, 130, 110)
    if y > deck:
        arch = any(inside(x, y, cx, deck + .04, .08, .12) for cx in (.2, .4, .6, .8))
        if y < .75 and not arch:
            return (165, 145, 120)
        return mix((100, 140, 130), (70, 110, 110), (y - .5) * 2)
    if .28 <= x <= .36 and .32 <= y < deck or .64 <= x <= .72 and .32 <= y < deck:
        return (120, 60, 50)
    return mix((200, 220, 235), (240, 240, 235), y / deck)


def baby_feet(x: float, y: float) -> RGB:
    for cx in (.4, .6):
        if inside(x, y, cx, .55, .08, .17):
            return (248, 205, 185)
        for i, (dx, dy) in enumerate(((-.05, -.2), (-.02, -.23), (.015, -.235), (.05, -.22))):
            if inside(x, y, cx + dx, .55 + dy, .018, .022):
                return (246, 200, 180)
    return mix((250, 235, 240), (235, 215, 225), y)


SCENES: dict[str, Callable[[float, float], RGB]] = {
    "81fb0c2d6e4a7395.jpg": sourdough,
    "scheduler-arch-1024x576.png": scheduler_arch,
    "scheduler-arch-300x169.png": scheduler_arch,
    "006Rq3Lkgy1hvt0c1x9a2j31400u0h0a.jpg": mountains,
    "006Rq3Lkgy1hvt0c2mf7qj30u01400zq.jpg": mountains,
    "006Rq3Lkgy1hvx2m8k3qpj31400u0n1f.jpg": promotion,
    "xixi-reeds.jpg": reeds,
    "bund-at-dusk.jpg": bund_dusk,
    "c0a3f61e8b9d2274.jpg": chilli_crab,
    "5b2e8d4c1f9a7e06.jpg": lantern,
    "83b7a2c2ly1hvq4n7w3kvj20u0140wjd.jpg": cat,
    "guangji-bridge.jpg": bridge,
    "xiaoman-feet.jpg": baby_feet,
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, scene in SCENES.items():
        (OUT / f"{name}.png").write_bytes(png(scene))
        print(f"{OUT / name}.png")


if __name__ == "__main__":
    main()
