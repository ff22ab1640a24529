"""Cheap language guess for posts: Chinese ("zh") or English ("en")."""

from __future__ import annotations

import os
import re
from typing import Any

# CJK Unified Ideographs, Extension A and the compatibility block; kana/hangul are not counted
# because the digest only distinguishes Chinese from everything else.
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_WORD = re.compile(r"[A-Za-z]+")

# One Chinese character carries roughly as much as one English word, so the share is computed
# over characters vs words; 0.4 keeps "Happy 中秋 everyone!" English while a post written in
# Chinese with a few English terms ("拿到了Google的offer") stays Chinese.
_ZH_SHARE = 0.4


def detect_lang(text: str) -> str:
    """Return "zh" when CJK characters make up a meaningful share of the text, else "en"."""
    cjk = sum(map(len, _CJK_RUN.findall(text)))
    if not cjk:
        return "en"
    # Words are only counted as far as they can change the answer: there are no more of them
    # than non-CJK characters, and counting stops once they outweigh the CJK characters.
    if cjk / len(text) >= _ZH_SHARE:
        return "zh"
    words = 0
    for _ in _LATIN_WORD.finditer(text):
        words += 1
        if cjk / (cjk + words) < _ZH_SHARE:
            return "en"
    return "zh"


def _import_jieba() -> Any:
    """jieba, imported quietly: its import triggers setuptools' pkg_resources deprecation warning, and
    it logs "Building prefix dict" on start-up; neither belongs on a user's terminal.

    jieba imports pkg_resources (~0.15 s of CPU) only to open its own data files, which it opens
    with plain open() when pkg_resources cannot be imported: so, unless something has imported
    it already, it is hidden for the moment jieba is imported."""
    import logging
    import sys
    import warnings

    hide = "pkg_resources" not in sys.modules
    if hide:
        sys.modules["pkg_resources"] = None  # `import pkg_resources` raises ImportError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            import jieba  # deferred: importing and loading its dictionary takes about a second
    finally:
        if hide and sys.modules.get("pkg_resources", False) is None:
            del sys.modules["pkg_resources"]

    jieba.setLogLevel(logging.WARNING)
    return jieba


def jieba_identity() -> dict[str, Any]:
    """What jieba's default dictionary state depends on: its version and dictionary file."""
    jieba = _import_jieba()
    path = os.path.join(os.path.dirname(jieba.__file__), jieba.DEFAULT_DICT_NAME)
    stat = os.stat(path)
    return {"jieba": jieba.__version__, "dict_size": stat.st_size, "dict_mtime_ns": stat.st_mtime_ns}


def new_jieba_tokenizer(freq: dict[str, int] | None = None, total: int | None = None) -> Any:
    """A private, initialised jieba Tokenizer (jieba is imported only here): words added to it stay
    out of jieba.dt. Given a prefix dictionary and its total (from an earlier tokenizer, see
    transforms.zh_cache), it starts from those instead of loading jieba's dictionary."""
    jieba = _import_jieba()
    tokenizer = jieba.Tokenizer()
    if freq is None:
        tokenizer.initialize()
    else:
        tokenizer.FREQ, tokenizer.total, tokenizer.initialized = freq, total, True
    return tokenizer
