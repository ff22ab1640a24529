"""Class features for the learned scorer: a post mentions a known place, dish, team, film, game...

The labelled posts name many things only once (a film, a dish, a city), too rarely for the scorer to
learn a weight for the word itself. The lists in gazetteer/ (one file per class, plain lines of
general world knowledge in English and Chinese) turn every such mention into one feature per class
("=place", "=dish"), so the model learns one weight per class and a name it never saw in training
still counts. Matching is cheap: English entries are stemmed like the post's tokens and looked up
among the post's stems and stem bigrams (one set intersection; longer entries are keyed by their
first two stems and checked only when those match); Chinese entries are found from the post's
character bigrams (one intersection: two-character entries, and the first two characters of longer
ones, which are then looked for in the text), and the few that mix in Latin letters ("c罗", "b站")
by one small trie regex.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from functools import cache
from operator import add
from pathlib import Path
from typing import NamedTuple

from transforms.tagging import _EN_POST_TOKEN as EN_POST_TOKEN
from transforms.tagging import _en_stems as en_stems
from transforms.tagging import _LATIN, _normalise, _trie_pattern

__all__ = ["FOLDER", "CLASS_MARK", "Gazetteer", "load_gazetteer"]

FOLDER = Path(__file__).with_name("gazetteer")
# A class feature is its file's name after this mark ("=place"): no other feature starts with it.
CLASS_MARK = "="

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_NOT_CJK = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fff]")

EnglishKey = str | tuple[str, str]


class Gazetteer(NamedTuple):
    """The lists prepared for matching."""

    # A one-stem entry's stem, or a two-stem entry's pair, -> the class features it gives.
    english: Mapping[EnglishKey, tuple[str, ...]]
    # Entries of three stems or more, by their first two stems: (all stems, class features).
    longer: Mapping[tuple[str, str], tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]]
    keys: frozenset[EnglishKey]  # english's keys and longer's, for one intersection per post
    # Two-character Chinese entries -> class features; longer ones by their first two characters
    # (each checked in the text when those two are there).
    chinese: Mapping[str, tuple[str, ...]]
    chinese_longer: Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]]
    chinese_keys: frozenset[str]
    # Entries mixing Latin and Chinese ("c罗", "b站"): one trie regex, read only in mixed posts.
    mixed: re.Pattern[str] | None
    mixed_classes: Mapping[str, tuple[str, ...]]
    fingerprint: str  # hash of the files, recorded with the weights trained on them

    def english_classes(self, found: Iterable[object], stems: list[str]) -> set[str]:
        """Class features of the English entries among a post's stems and stem bigrams (`found`:
        its features; `stems`: its stems in order, to check entries longer than two stems)."""
        classes: set[str] = set()
        for key in self.keys.intersection(found):
            classes.update(self.english.get(key, ()))
            for entry, entry_classes in self.longer.get(key, ()):  # type: ignore[call-overload]
                size = len(entry)
                if any(tuple(stems[i : i + size]) == entry for i in range(len(stems) - size + 1)):
                    classes.update(entry_classes)
        return classes

    def chinese_classes(self, text: str, bigrams: list[str], norm: str) -> set[str]:
        """Class features of the Chinese entries in `text` (a post's CJK runs joined by spaces,
        whose character bigrams are `bigrams`: one intersection finds the two-character entries and
        the starts of longer ones), and of the mixed ones in `norm` when it has Latin letters."""
        classes: set[str] = set()
        for gram in self.chinese_keys.intersection(bigrams):
            classes.update(self.chinese.get(gram, ()))
            for entry, entry_classes in self.chinese_longer.get(gram, ()):
                if entry in text:
                    classes.update(entry_classes)
        if self.mixed is not None and _LATIN.search(norm):
            classes.update(feature for hit in self.mixed.findall(norm) for feature in self.mixed_classes[hit])
        return classes

    def mention(self, norm: str, feature: str) -> str | None:
        """The first entry of class `feature` in `norm` as the post writes it (the evidence shown
        for a class feature), or None; found the way chinese_classes and english_classes find them."""
        chinese: list[str] = []
        if _CJK.search(norm):
            for gram in self.chinese_keys.intersection(map(add, norm, norm[1:])):
                if feature in self.chinese.get(gram, ()):
                    chinese.append(gram)
                chinese += [entry for entry, classes in self.chinese_longer.get(gram, ()) if feature in classes and entry in norm]
            if self.mixed is not None:
                chinese += [hit for hit in self.mixed.findall(norm) if feature in self.mixed_classes[hit]]
        if chinese:
            return min(chinese, key=lambda entry: (norm.index(entry), -len(entry)))
        tokens = EN_POST_TOKEN.findall(norm)
        stems = en_stems(tokens)
        for i, stem in enumerate(stems):
            pair = tuple(stems[i : i + 2])
            for entry, classes in self.longer.get(pair, ()):  # type: ignore[call-overload]
                if feature in classes and tuple(stems[i : i + len(entry)]) == entry:
                    return " ".join(tokens[i : i + len(entry)])
            if feature in self.english.get(pair, ()):
                return " ".join(tokens[i : i + 2])
            if feature in self.english.get(stem, ()):
                return tokens[i]
        return None


def _entries(text: str) -> Iterable[str]:
    """A list file's entries: non-blank lines not starting with '#', normalised as posts are."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield _normalise(line).strip()


# The code that prepares the lists (normalising, stemming, the trie regex): part of the disk cache's key.
_PREPARED_BY = (Path(__file__), Path(__file__).with_name("tagging.py"), Path(__file__).with_name("zh_variants.py"))


@cache
def load_gazetteer(folder: Path = FOLDER) -> Gazetteer:
    """Every list file in `folder`, prepared; a class is a file's name without its extension.

    Preparing them (normalising and stemming some 8,000 entries) costs about 50 ms of CPU, so the
    result is kept in the disk cache (transforms/zh_cache.py, kind "gazetteer"), keyed by the
    files and the source of the code that prepares them."""
    from transforms import zh_cache

    files = [(path.name, path.read_bytes()) for path in sorted(folder.glob("*.txt"))]
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode() + b"\0" + data)
    code = hashlib.sha256(b"".join(path.read_bytes() for path in _PREPARED_BY)).hexdigest()
    key = zh_cache.cache_key("gazetteer", digest.hexdigest(), code)
    gazetteer = zh_cache.load(key, kind="gazetteer")
    if not isinstance(gazetteer, Gazetteer):
        gazetteer = _prepare(files, digest.hexdigest()[:16])
        zh_cache.save(key, gazetteer, kind="gazetteer")
    return gazetteer


def _prepare(files: list[tuple[str, bytes]], fingerprint: str) -> Gazetteer:
    """The Gazetteer of these (file name, contents) lists."""
    english: dict[EnglishKey, set[str]] = {}
    longer: dict[tuple[str, str], dict[tuple[str, ...], set[str]]] = {}
    chinese: dict[str, set[str]] = {}
    mixed: dict[str, set[str]] = {}
    for name, data in files:
        feature = CLASS_MARK + Path(name).stem
        for entry in _entries(data.decode("utf-8")):
            if _CJK.search(entry):
                if len(entry) > 1:
                    (mixed if _NOT_CJK.search(entry) else chinese).setdefault(entry, set()).add(feature)
                continue
            stems = tuple(en_stems(EN_POST_TOKEN.findall(entry)))
            if not stems or (len(stems) == 1 and len(stems[0]) < 2):
                continue  # "c++" is the letter c to the tokeniser: it would match everywhere
            if len(stems) <= 2:
                english.setdefault(stems[0] if len(stems) == 1 else (stems[0], stems[1]), set()).add(feature)
            else:
                longer.setdefault((stems[0], stems[1]), {}).setdefault(stems, set()).add(feature)
    zh_longer: dict[str, dict[str, set[str]]] = {}
    for entry in [entry for entry in chinese if len(entry) > 2]:
        zh_longer.setdefault(entry[:2], {})[entry] = chinese.pop(entry)
    frozen_zh_longer = {key: tuple((entry, tuple(sorted(cls))) for entry, cls in sorted(entries.items())) for key, entries in zh_longer.items()}
    frozen_longer = {key: tuple((entry, tuple(sorted(cls))) for entry, cls in sorted(entries.items())) for key, entries in longer.items()}
    return Gazetteer(
        english={key: tuple(sorted(cls)) for key, cls in english.items()},
        longer=frozen_longer,
        keys=frozenset(english) | frozenset(frozen_longer),
        chinese={entry: tuple(sorted(cls)) for entry, cls in chinese.items()},
        chinese_longer=frozen_zh_longer,
        chinese_keys=frozenset(chinese) | frozenset(frozen_zh_longer),
        mixed=re.compile(_trie_pattern(sorted(mixed))) if mixed else None,
        mixed_classes={entry: tuple(sorted(cls)) for entry, cls in mixed.items()},
        fingerprint=fingerprint,
    )
