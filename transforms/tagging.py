"""Interim keyword tagger (replaced by the full tagger of issue 4)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from guanxi.models import Tags
from transforms.lang import detect_lang

_WORDS = {
    "travel": ["trip", "travel", "flight", "hike", "旅行", "旅游", "出差", "徒步"],
    "food": ["dinner", "lunch", "restaurant", "recipe", "火锅", "美食", "好吃"],
    "family": ["family", "daughter", "son", "parents", "家人", "女儿", "儿子", "爸妈"],
    "sports": ["marathon", "run", "football", "马拉松", "跑步", "羽毛球"],
    "entertainment": ["movie", "concert", "film", "电影", "演唱会"],
    "tech": ["python", "kubernetes", "release", "database", "代码", "数据库", "开源"],
    "work": ["team", "project", "job", "hiring", "promotion", "团队", "项目", "升职"],
    "learning": ["course", "learning", "book", "课程", "学习", "读书"],
    "pets": ["cat", "dog", "puppy", "猫", "狗"],
    "festivals": ["christmas", "new year", "春节", "中秋", "端午"],
}
_SIGNALS = {
    "check_in": ["passed away", "funeral", "laid off", "hospital", "去世", "住院", "被裁"],
    "congratulate": ["promoted", "promotion", "launch", "wedding", "baby", "升职", "发布", "婚礼", "宝宝"],
    "offer_help": ["recommend", "any advice", "hiring", "moving to", "推荐", "求助", "招聘", "搬家"],
}


@dataclass(frozen=True, slots=True)
class Taxonomy:
    topics: dict[str, list[str]]
    signals: dict[str, list[str]]


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    return Taxonomy(_WORDS, _SIGNALS)


def taxonomy_fingerprint(taxonomy: Taxonomy) -> str:
    return hashlib.sha256(repr((taxonomy.topics, taxonomy.signals)).encode()).hexdigest()[:12]


def tag_post(title: str, text: str, *, taxonomy: Taxonomy | None = None) -> Tags:
    tax = taxonomy or load_taxonomy()
    body = f"{title}\n{text}".lower()
    evidence = {}
    for label, words in {**tax.topics, **tax.signals}.items():
        hits = tuple(w for w in words if w in body)
        if hits:
            evidence[label] = hits
    signals = tuple(s for s in tax.signals if s in evidence)
    if "check_in" in signals:
        signals = tuple(s for s in signals if s != "congratulate")
    return Tags(topics=tuple(t for t in tax.topics if t in evidence), signals=signals,
                lang=detect_lang(body), evidence=evidence)
