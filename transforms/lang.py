"""Cheap language guess for posts: Chinese ("zh") or English ("en")."""

from __future__ import annotations

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


def new_jieba_tokenizer() -> Any:
    """A private, initialised jieba Tokenizer, loaded quietly (jieba is imported only here).

    jieba logs "Building prefix dict" on start-up and its import triggers setuptools'
    pkg_resources deprecation warning; neither belongs on a user's terminal.
    """
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import jieba  # deferred: importing and loading its dictionary takes about a second

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()  # a private instance: words we add stay out of jieba.dt
    tokenizer.initialize()
    return tokenizer
