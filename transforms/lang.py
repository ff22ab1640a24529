"""Language of a post: "zh" when a meaningful share of it is CJK, else "en"."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]+")


def detect_lang(text: str) -> str:
    cjk = len(_CJK.findall(text))
    words = len(_LATIN.findall(text))
    return "zh" if cjk and cjk >= words * 0.5 else "en"
