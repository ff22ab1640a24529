"""Words for full-text search: jieba segments Chinese, English is lower-cased word by word.

Documents and queries go through the same function, so a query matches the words the index
holds. jieba is imported lazily (only search and ingest need it) and initialised once, quietly.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings

_WORD = re.compile(r"[0-9a-z\u00c0-\u024f]+(?:['’][a-z]+)?|[\u3400-\u9fff\uf900-\ufaff]+", re.I)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_jieba = None
_jieba_lock = threading.Lock()


def _tokenizer():
    """jieba's default tokenizer, initialised once with its start-up chatter silenced."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                with warnings.catch_warnings():  # jieba imports pkg_resources, which warns
                    warnings.simplefilter("ignore")
                    import jieba

                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                _jieba = tok
    return _jieba


def segment_for_search(text: str, lang: str | None = None) -> str:
    """Space-separated lower-case search words; Chinese runs are cut by jieba (search mode).

    `lang` is a hint only: mixed posts are common, so each run of text is segmented by its script.
    """
    if not text:
        return ""
    words: list[str] = []
    for m in _WORD.finditer(text.lower()):
        run = m.group(0)
        if _CJK.match(run):
            # cut_for_search also yields the short words inside long ones (上海交通大学 -> 上海, 交通, …),
            # so a query for a part still finds the whole.
            words += [w for w in _tokenizer().cut_for_search(run) if w.strip()]
        else:
            words.append(run.replace("’", "'"))
    return " ".join(words)
