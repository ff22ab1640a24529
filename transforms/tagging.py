"""Tag posts with topics and signals from an editable taxonomy, in Chinese and English.

Matching works sentence by sentence on a normalised copy of the post (NFKC, lower case,
traditional -> simplified, English contractions expanded):

* English words are stemmed with a small suffix stripper and looked up as word sequences.
* Chinese clauses that may contain a keyword (a cheap regex pre-filter) are segmented with jieba,
  and keywords only match on jieba's word boundaries, so 被裁判 is not 被裁 and 熊猫 is not 猫.
* Each keyword hit is then read in context (negation, hedging, questions, whose milestone it is)
  according to the label's `block_when`, and a label applies when the weights of its distinct
  surviving keywords reach its threshold.

jieba is imported on first use only: importing this module must stay cheap for callers that never
tag Chinese text.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import tomllib
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from itertools import accumulate, chain, repeat
from math import inf, log
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from guanxi.errors import GuanxiError
from guanxi.models import Tags
from transforms.lang import detect_lang, new_jieba_tokenizer
from transforms.zh_variants import T2S

__all__ = ["DEFAULT_TAXONOMY", "Label", "Taxonomy", "load_taxonomy", "tag_post", "taxonomy_fingerprint"]

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.toml")

# Part of the fingerprint: bump when matching behaviour changes, so stored tags get re-applied
# after a code change just as after a taxonomy edit.
MATCHER_VERSION = 5

_KINDS = ("topics", "signals")
_BLOCKERS = frozenset({"negated", "hedged", "question", "third_party", "public"})
_KEYWORD_KEYS = ("en", "zh", "en_ask", "zh_ask", "emoji")
_LIST_KEYS = (*_KEYWORD_KEYS, "exclude_en", "exclude_zh", "block_when", "suppresses")
_LABEL_KEYS = frozenset({*_LIST_KEYS, "description", "weights", "threshold", "replace"})
_CONTEXT_KEYS = ("negation", "negation_breakers", "scope_breakers", "hedge", "question", "own", "family", "third_party", "public")
_ID = re.compile(r"[a-z][a-z0-9_]*\Z")

# Context windows, in tokens (English words or jieba words) before a keyword.
_NEGATION_WINDOW = 4
_HEDGE_WINDOW = 6
_OWNER_BACK = 8
_OWNER_AHEAD = 4
# The same windows for Chinese ownership cues, in characters (cues are found by substring).
_ZH_OWNER_BACK = 12
_ZH_OWNER_AHEAD = 6
# A Chinese keyword may span at most this many jieba words.
_ZH_MAX_TOKENS = 4
# Dictionary words longer than this are not looked for across a keyword's boundary.
_ZH_WORD_REACH = 4
# Negation and hedge windows in characters, for clauses matched without jieba (about 4 and 6 words).
_ZH_NEGATION_WINDOW = 6
_ZH_HEDGE_WINDOW = 10
# Longest Chinese context cue looked for (并没有 is three characters).
_ZH_CUE_LEN = 3
# Part of the disk cache's key for the prepared Chinese state (transforms/zh_cache.py): bump when its
# form changes (2: its large sets are dicts, see _word_pairs; 3: no boundary traps, every pair cached,
# all in parts by first character, see read_dictionary).
_ZH_STATE_FORMAT = 3

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN = re.compile(r"[a-z]")
_EN_TOKEN = re.compile(r"[a-z0-9\u00e0-\u024f]+|[,:()]")
# Whole posts are tokenised once; sentence ends become tokens too, so context never reads across them.
_EN_POST_TOKEN = re.compile(r"[a-z0-9\u00e0-\u024f]+|[,:()!?;\n。]|\.(?=\s|\Z)")
_SENTENCE_END = frozenset("!?;\n。.")
_PUNCT_TOKENS = frozenset(",:()、\"“”《》·~…-") | _SENTENCE_END
# Sentences end at ! ? 。 ; or a newline (kept with the sentence), or at a full stop before
# whitespace, so "1.0" and "3.2 kg" do not split.
_SENTENCE_SPLIT = re.compile(r"(?<=[!?。;\n])|(?<=\.)(?=\s)")
# What ends a sentence there: the splits are where these matches end (a scan for them skips ahead
# in C, where the lookbehinds above are tried at every character).
_SENTENCE_ENDS = re.compile(r"[!?。;\n]|\.(?=\s)")
# Chinese clauses: negation and hedges do not reach across commas.
_ZH_CLAUSE = re.compile(r"[^,、:()\"“”《》\s]+")
_CONTRACTION = re.compile(r"\b(can|won|ain)'t\b|n't\b|'(re|m|ve|ll|d|s)\b")
_CONTRACTION_WORDS = {"can": "can not", "won": "will not", "ain": "is not"}
_CONTRACTION_SUFFIXES = {"re": " are", "m": " am", "ve": " have", "ll": " will", "d": " would", "s": ""}
_TRANSLATE = {**T2S, ord("’"): "'", ord("‘"): "'", ord("`"): "'"}


# --------------------------------------------------------------------------------------------
# Normalisation and English stemming
# --------------------------------------------------------------------------------------------


def _expand_contraction(match: re.Match[str]) -> str:
    """Spell a contraction out so that negations become the word "not"."""
    if match.group(1):
        return _CONTRACTION_WORDS[match.group(1)]
    if match.group(2) is None:
        return " not"
    return _CONTRACTION_SUFFIXES[match.group(2)]


def _expand_contractions(text: str) -> str:
    """_CONTRACTION.sub(_expand_contraction, text), trying the pattern only where a match can start
    (three, one or zero characters before an apostrophe): a plain sub tries its boundary test and three
    branches at every character of the post."""
    out: list[str] = []
    pos, quote = 0, text.find("'")
    while quote >= 0:
        for start in (quote - 3, quote - 1, quote):
            match = _CONTRACTION.match(text, start) if start >= pos else None
            if match:
                out += (text[pos:start], _expand_contraction(match))
                pos = match.end()
                break
        quote = text.find("'", quote + 1)
    return "".join(out) + text[pos:] if out else text


def _normalise(text: str) -> str:
    """Fold width, case, traditional characters and contractions so keywords match one form."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_TRANSLATE)
    return _expand_contractions(text)


# The fullwidth punctuation Chinese posts are full of, folded the way NFKC folds it.
_FULLWIDTH_PUNCT = (("！", "!"), ("？", "?"), ("，", ","), ("；", ";"), ("：", ":"), ("（", "("), ("）", ")"), ("～", "~"),
                    ("｜", "|"), ("…", "..."), ("‼", "!!"), ("’", "'"), ("‘", "'"), ("`", "'"))
# Anything else NFKC would change in everyday posts (other fullwidth forms, compatibility
# ideographs, ligatures, odd spaces): the rare post holding one goes through full _normalise.
_NEEDS_NFKC = re.compile(
    "["
    + "".join(chr(c) for c in range(0xFF01, 0xFF5F) if chr(c) not in dict(_FULLWIDTH_PUNCT))
    + "\uf900-\ufaff\ufb00-\ufb06\u2460-\u24ff\u2000-\u200a\u3000\u00a0\u2025\u00bc-\u00be\u2150-\u218f]"
)
_TRADITIONAL = re.compile("[" + "".join(sorted(chr(code) for code in T2S)) + "]")
_TRADITIONAL_RUN = re.compile(_TRADITIONAL.pattern + "+")


def _to_simplified(match: re.Match[str]) -> str:
    """A run of traditional characters, simplified."""
    return match.group().translate(T2S)


def _normalise_post(text: str) -> str:
    """_normalise for whole posts, cheaper: whole-text passes (NFKC, the traditional table) only run
    when the text has a character they would change; otherwise a few C-level replacements, and
    for plain ASCII (str.isascii is free) none of them can apply."""
    if text.isascii():
        text = text.lower()
        return _expand_contractions(text.replace("`", "'") if "`" in text else text)
    if _NEEDS_NFKC.search(text):
        return _normalise(text)
    text = text.lower()
    for wide, narrow in _FULLWIDTH_PUNCT:
        if wide in text:
            text = text.replace(wide, narrow)
    if _TRADITIONAL.search(text):
        # Only the runs of traditional characters are translated: str.translate with a dict costs
        # a lookup per character of the whole post, and most posts hold a few such characters.
        text = _TRADITIONAL_RUN.sub(_to_simplified, text)
    return _expand_contractions(text)


def _undouble(word: str) -> str:
    """Drop a doubled final consonant left by a stripped suffix (running -> run, but not pass)."""
    if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "aeioulsfz":
        return word[:-1]
    return word


# Words the suffix stripper would fold into an unrelated word (wine -> win, doge -> dog,
# meeting -> meet); they keep a stem of their own.
_STEM_EXCEPTIONS = {"wine": "wine", "wines": "wine", "doge": "doge", "meeting": "meeting", "meetings": "meeting",
                    "news": "news", "species": "species", "series": "series"}


def _stem(word: str) -> str:
    """Reduce an English word to a crude stem so inflections meet (hiked/hiking/hikes -> hik)."""
    if word in _STEM_EXCEPTIONS:
        return _STEM_EXCEPTIONS[word]
    stem = word
    if len(stem) > 3:
        # Plurals and third person.
        if stem.endswith("ies") and len(stem) > 4:
            stem = stem[:-3] + "i"
        elif stem.endswith(("sses", "shes", "ches", "xes", "zes")):
            stem = stem[:-2]
        elif stem.endswith("s") and not stem.endswith(("ss", "us", "is")):
            stem = stem[:-1]
        # Verb and noun endings.
        if stem.endswith("ied") and len(stem) > 4:
            stem = stem[:-3] + "i"
        elif stem.endswith("ing") and len(stem) > 5:
            stem = _undouble(stem[:-3])
        elif stem.endswith("ed") and len(stem) > 4:
            stem = _undouble(stem[:-2])
        elif stem.endswith("ment") and len(stem) > 6:
            stem = stem[:-4]
        elif stem.endswith(("tion", "sion")) and len(stem) > 5:
            stem = stem[:-3]
        if stem.endswith("e") and len(stem) > 3:
            stem = stem[:-1]
        elif stem.endswith("y") and len(stem) > 2:
            stem = stem[:-1] + "i"
    return stem


_STEMS: dict[str, str] = {}
_STEM_CACHE_LIMIT = 200_000
# Chinese sentences whose reading is kept (per taxonomy), and the longest kept (longer ones
# rarely come back): about 15 MB at most.
_SENTENCE_CACHE_LIMIT = 10_000
_SENTENCE_CACHE_CHARS = 200
# Pieces of Chinese text whose jieba cut is kept (and the longest kept), and how far apart two
# cuts' scores (log probabilities, rounded far below this) must be for a piece's cut to be
# trusted on its own.
_PIECE_CACHE_LIMIT = 50_000
_PIECE_CACHE_CHARS = 24
_ROUTE_MARGIN = 1e-6


def _stem_cached(word: str) -> str:
    """Stem through a bounded cache: posts reuse a small vocabulary, so stems are computed rarely."""
    if len(_STEMS) >= _STEM_CACHE_LIMIT:
        _STEMS.clear()
    stem = _STEMS[word] = _stem(word)
    return stem


def _en_stems(tokens: list[str]) -> list[str]:
    """Stem every token of a sentence."""
    stems = list(map(_STEMS.get, tokens))
    if None in stems:
        stems = [stem or _stem_cached(token) for stem, token in zip(stems, tokens)]
    return stems


def _en_phrase(text: str) -> tuple[str, ...]:
    """Turn an English keyword or cue into the stem sequence it must match."""
    return tuple(_en_stems(_EN_TOKEN.findall(_normalise(text))))


def _zh_phrase(text: str) -> str:
    """Turn a Chinese keyword or cue into the normalised simplified form it must match."""
    return _normalise(text).strip()


# --------------------------------------------------------------------------------------------
# Taxonomy
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Label:
    """One topic or signal as defined in a taxonomy file."""

    id: str
    kind: str
    description: str
    en: tuple[str, ...]
    zh: tuple[str, ...]
    en_ask: tuple[str, ...]
    zh_ask: tuple[str, ...]
    emoji: tuple[str, ...]
    exclude_en: tuple[str, ...]
    exclude_zh: tuple[str, ...]
    weights: Mapping[str, float]
    threshold: float
    block_when: frozenset[str]
    suppresses: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready form (used for fingerprints)."""
        return {
            "id": self.id,
            "kind": self.kind,
            **{key: list(getattr(self, key)) for key in _LIST_KEYS if key not in ("block_when",)},
            "block_when": sorted(self.block_when),
            "weights": dict(sorted(self.weights.items())),
            "threshold": self.threshold,
        }


class _Key(NamedTuple):
    """A compiled keyword: which label it feeds, with what weight, and whether it needs a question."""

    label: int
    keyword: str
    weight: float
    ask: bool


class _Cues(NamedTuple):
    """Context cue words for one language, normalised the way post text is."""

    negation: frozenset[str]
    negation_breakers: frozenset[str]
    scope_breakers: frozenset[str]
    hedge: frozenset[str]
    question: tuple[str, ...]
    owner: dict[str, str]
    public: tuple[str, ...]


class _Compiled:
    """Lookup structures built once per taxonomy, plus its lazily attached jieba segmenter."""

    def __init__(self, labels: tuple[Label, ...], context: Mapping[str, Mapping[str, tuple[str, ...]]]) -> None:
        self.labels = labels
        self.index = {label.id: i for i, label in enumerate(labels)}
        self.thresholds = tuple(label.threshold for label in labels)
        self.blocks = tuple(label.block_when for label in labels)
        self.suppress = tuple(tuple(self.index[name] for name in label.suppresses) for label in labels)
        self.en_keys: dict[str, list[tuple[tuple[str, ...], _Key]]] = {}
        self.en_exclude: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        self.zh_keys: dict[str, list[_Key]] = {}
        self.zh_exclude: dict[str, list[int]] = {}
        self.emoji: list[tuple[str, _Key]] = []
        for i, label in enumerate(labels):
            seen: set[tuple[str, ...]] = set()
            for ask, words in ((False, label.en), (True, label.en_ask)):
                for word in words:
                    phrase = _en_phrase(word)
                    if phrase in seen:  # hike and hiking are one keyword; the first listed wins
                        continue
                    seen.add(phrase)
                    self.en_keys.setdefault(phrase[0], []).append((phrase, _Key(i, word, label.weights.get(word, 1.0), ask)))
            for ask, words in ((False, label.zh), (True, label.zh_ask)):
                for word in words:
                    self.zh_keys.setdefault(_zh_phrase(word), []).append(_Key(i, word, label.weights.get(word, 1.0), ask))
            for word in label.exclude_en:
                phrase = _en_phrase(word)
                self.en_exclude.setdefault(phrase[0], []).append((phrase, i))
            for word in label.exclude_zh:
                self.zh_exclude.setdefault(_zh_phrase(word), []).append(i)
            self.emoji.extend(
                (unicodedata.normalize("NFKC", symbol), _Key(i, symbol, label.weights.get(symbol, 1.0), False))
                for symbol in label.emoji
            )
        self.en_firsts = frozenset(self.en_keys) | frozenset(self.en_exclude)
        # Keywords whose hits count whatever their context.
        self.en_free = frozenset(key for entries in self.en_keys.values() for _, key in entries if not key.ask and not self.blocks[key.label])
        # Most posts hold none of the symbols: one search for a character near a symbol's first one
        # rules that out far faster than an alternation of the symbols themselves.
        self.emoji_firsts = _near_chars({symbol[0] for symbol, _ in self.emoji})
        # First stems whose every keyword is that one word, of a label read without context, and
        # inside no exclusion of its label: counted as soon as they are seen.
        self.en_fast: dict[str, _Key] = {}
        for first, entries in self.en_keys.items():
            if first in self.en_exclude or len(entries) != 1:
                continue
            phrase, key = entries[0]
            if len(phrase) == 1 and not key.ask and not self.blocks[key.label] and not any(
                first in _en_phrase(other) for other in labels[key.label].exclude_en
            ):
                self.en_fast[first] = key
        for entries in self.en_keys.values():
            entries.sort(key=lambda entry: -len(entry[0]))
        # Per first stem, its keywords and exclusions that can match given the next stem: most
        # first stems (the, my, in, new) only start phrases, so one dict lookup on the next stem
        # settles the common case of no match. Both lists keep the order above.
        self.en_next: dict[str, tuple[dict[str, tuple[list, list]], tuple[list, list]]] = {}
        for first in self.en_firsts:
            entries, excluded = self.en_keys.get(first, []), self.en_exclude.get(first, [])
            seconds = {phrase[1] for phrase, _ in (*entries, *excluded) if len(phrase) > 1}
            self.en_next[first] = (
                {
                    second: (
                        [entry for entry in entries if len(entry[0]) == 1 or entry[0][1] == second],
                        [entry for entry in excluded if len(entry[0]) == 1 or entry[0][1] == second],
                    )
                    for second in seconds
                },
                ([entry for entry in entries if len(entry[0]) == 1], [entry for entry in excluded if len(entry[0]) == 1]),
            )
        # First stems (not counted at once) that start only such one-word keywords and no
        # exclusion: per stem, those keywords.
        self.en_simple = {
            first: tuple(key for _, key in self.en_next[first][1][0])
            for first, entries in self.en_keys.items()
            if first not in self.en_exclude and first not in self.en_fast
            and all(len(phrase) == 1 and key in self.en_free for phrase, key in entries)
        }
        zh_all = [*self.zh_keys, *self.zh_exclude]
        self.zh_heads = frozenset(word[:k] for word in zh_all for k in range(1, len(word) + 1))
        # Words inside a scan's match (火锅 in 火锅店, 烤鸭 in 吃烤鸭; see zh_scans) come from this table.
        self.zh_inside: dict[str, tuple[tuple[int, str], ...]] = {
            word: tuple(
                (a, word[a:b])
                for a in range(len(word))
                for b in range(a + 1, len(word) + 1)
                if word[a:b] in self.zh_keys or word[a:b] in self.zh_exclude
            )
            for word in zh_all
        }
        # The same, ready for _zh_char_hits: (offset, length, word, its keywords, labels it excludes).
        self.zh_plan: dict[str, tuple[tuple[int, int, str, tuple[_Key, ...], tuple[int, ...]], ...]] = {
            word: tuple(
                (offset, len(part), part, tuple(self.zh_keys.get(part, ())), tuple(self.zh_exclude.get(part, ())))
                for offset, part in parts
            )
            for word, parts in self.zh_inside.items()
        }
        # Per scan match: (label, keyword, word) for each keyword inside it. Context only ever
        # blocks a hit and a keyword counts once per post, so once all of them are tallied another
        # occurrence cannot change the result: long posts skip their repeats without segmenting or
        # context checks.
        self.zh_parts: dict[str, tuple[tuple[int, str, str], ...]] = {
            word: tuple((key.label, key.keyword, part) for _, part in parts for key in self.zh_keys.get(part, ()))
            for word, parts in self.zh_inside.items()
        }
        # Scan matches that need no reading of their context: every keyword inside feeds a label
        # without block_when, none needs a question, and no exclusion of its label can overlap it.
        # Unless a word boundary at either end is ambiguous, such a match is tallied at once (the
        # parts a longer part of the same label covers already dropped).
        self.zh_fast: dict[str, tuple[tuple[_Key, str], ...]] = {}
        for word, inside_parts in self.zh_inside.items():
            hits = [
                _Hit(key, offset, offset + len(part), part)
                for offset, part in inside_parts
                for key in self.zh_keys.get(part, ())
            ]
            if not hits or any(part in self.zh_exclude for _, part in inside_parts):
                continue
            if all(
                not hit.key.ask
                and not self.blocks[hit.key.label]
                and not any(_may_overlap(hit.surface, _zh_phrase(other)) for other in labels[hit.key.label].exclude_zh)
                for hit in hits
            ):
                self.zh_fast[word] = tuple((hit.key, hit.surface) for hit in _keep(hits, []))
        self.words: Mapping[str, int] = {}  # jieba's dictionary once loaded, for boundary checks
        self.joins: Mapping[str, None] = {}  # character pairs inside its words (see _word_pairs)
        self.words_at = -1  # how many taxonomy words jieba held when the segmenter was made
        # Only multi-character words go into jieba: boosting single characters such as 猫 would
        # split real words like 熊猫 apart.
        self.zh_dictionary = tuple(word for word in zh_all if len(word) > 1)
        self.en_cues = _compile_cues(context.get("en", {}), _en_phrase)
        self.zh_cues = _compile_cues(context.get("zh", {}), _zh_phrase)
        # Whether every English request cue has a Latin letter, so sentences without one need no stems.
        self.en_question_latin = all(_LATIN.search(cue) for cue in self.en_cues.question)
        # Any negation or hedge cue (or scope breaker) at all before a hit: when there is none, which
        # is most of the time, the character-by-character scan back has nothing to find.
        self.zh_negation_cue = _any_of(self.zh_cues.negation | self.zh_cues.scope_breakers)
        self.zh_hedge_cue = _any_of(self.zh_cues.hedge | self.zh_cues.scope_breakers)
        self.segment: Callable[[str], list[str]] | None = None
        self.units: Callable[[str], list[_Unit] | None] | None = None  # the same cut in units
        self.sparse: Callable[..., _UnitAt | None] | None = None  # a unit of those (see _Window)
        # Per unit text: its hits and exclusions (positions in its own words), whether every hit
        # counts whatever its context, and the hits' (keyword, surface) pairs.
        self.zh_units: dict[str, tuple[tuple[_Hit, ...], tuple[tuple[int, int, int], ...], bool, frozenset[Any]] | tuple[()]] = {}
        # Per jieba word, the keywords found inside it; bounded by the language's vocabulary.
        self.affixes: dict[str, tuple[tuple[str, _Key], ...]] = {}
        # Per (sentence, its matches to read, whether the post has Latin letters): what counts.
        self.zh_sentences: dict[tuple[str, tuple[tuple[int, str], ...], bool], Any] = {}

    @cached_property
    def zh_scans(self) -> tuple[re.Pattern[str], ...]:
        """One C-level scan per post finds the longest keyword or exclusion at each leftmost
        position. A keyword that overlaps a match without being inside it is also a jieba word, so
        it makes the match's boundary ambiguous and jieba then finds it. Compiled on the first
        Chinese post (about 40 ms of regex compiling that an English-only run never needs)."""
        return tuple(re.compile(_trie_pattern(group)) for group in _scan_groups([*self.zh_keys, *self.zh_exclude]))

    @cached_property
    def zh_loud(self) -> dict[str, bool]:
        """Per scan match (keyword or exclusion): whether a unit holding it may still hold a hit the
        post has not counted when the match itself is left unread (counted at once, or all its
        keywords counted already); _Window reads such units too. Each hit in a clause is a
        keyword inside some scan match, except one that starts inside a match of its own scan and
        runs past it (西湖|人 hides 湖人 from the scan that found 西湖): a match that could hide one
        is loud. So is a match counted at once whose tally leaves out a keyword inside it (数据 in
        数据库, covered by the longer keyword of its label), which jieba could find alone there.
        Empty when a keyword can reach across a sentence end (`!` inside it): a sentence's units
        are then all read, as a match from the sentence before may reach into them."""
        words = [*self.zh_keys, *self.zh_exclude]
        if any(_SENTENCE_SPLIT.search(word[:-1]) or re.search(r"\.\s", word) for word in words):
            return {}
        scan_of = {word[0]: k for k, group in enumerate(_scan_groups(words)) for word in group}  # as zh_scans
        heads = {word[:k] for word in words for k in range(1, len(word))}  # proper prefixes
        loud: dict[str, bool] = {}
        for word in words:
            hides = any(word[i:] in heads and scan_of[word[i]] == scan_of[word[0]] for i in range(1, len(word)))
            inside = {(key, part) for _, part in self.zh_inside[word] for key in self.zh_keys.get(part, ())}
            loud[word] = hides or (word in self.zh_fast and set(self.zh_fast[word]) != inside)
        return loud


def _any_of(words: Iterable[str]) -> re.Pattern[str]:
    """A regex finding any of `words` (one that never matches when there are none)."""
    words = sorted(words, key=lambda word: (-len(word), word))
    return re.compile("|".join(map(re.escape, words)) if words else r"(?!)")


def _near_chars(chars: set[str], gap: int = 256) -> re.Pattern[str]:
    """A regex finding any of `chars`, and maybe a few characters between them: close ones are
    merged into ranges, because re tests a class of many non-BMP literals one by one."""
    ranges: list[list[int]] = []
    for code in sorted(map(ord, chars)):
        if ranges and code - ranges[-1][1] <= gap:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    body = "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges)
    return re.compile(f"[{body}]" if body else r"(?!)")


def _may_overlap(keyword: str, other: str) -> bool:
    """Whether two strings can overlap in some text: one inside the other, or an end of one being
    the start of the other."""
    if keyword in other or other in keyword:
        return True
    return any(other.endswith(keyword[:k]) or other.startswith(keyword[-k:]) for k in range(1, len(keyword)))


def _compile_cues(cues: Mapping[str, tuple[str, ...]], norm: Callable[[str], Any]) -> _Cues:
    """Normalise one language's cue lists; English cues become stems, multi-word ones tuples."""

    def one(cue: str) -> str:
        value = norm(cue)
        return " ".join(value) if isinstance(value, tuple) else value

    def words(key: str) -> frozenset[str]:
        return frozenset(map(one, cues.get(key, ())))

    owner = {one(cue): "third" if kind == "third_party" else kind for kind in ("own", "family", "third_party") for cue in cues.get(kind, ())}
    question = tuple(map(one, cues.get("question", ())))
    public = tuple(map(one, cues.get("public", ())))
    return _Cues(words("negation"), words("negation_breakers"), words("scope_breakers"), words("hedge"), question, owner, public)


# Chinese keywords are scanned by this many regexes, each for the keywords starting with its share
# of first characters. re tries a pattern's top-level alternatives one by one at every position
# whose character may start a match; with hundreds of keywords that linear step dominates, and a
# few smaller scans (each skipping to its own first characters in C) are several times faster.
_ZH_SCAN_BINS = 6


def _scan_groups(words: Iterable[str]) -> list[list[str]]:
    """`words` split by first character into bins of similar branch counts, one trie regex each."""
    by_first: dict[str, list[str]] = {}
    for word in words:
        by_first.setdefault(word[0], []).append(word)
    bins: list[list[str]] = [[] for _ in range(_ZH_SCAN_BINS)]
    for first in sorted(by_first, key=lambda char: (-len(by_first[char]), char)):
        min(bins, key=len).extend(by_first[first])
    return [group for group in bins if group]


def _trie_pattern(words: Iterable[str]) -> str:
    """Build a regex alternation shaped like a trie, so the engine tests one branch per character."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return emit(trie)


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """A validated set of labels and context cues, compiled for matching."""

    labels: tuple[Label, ...]
    context: Mapping[str, Mapping[str, tuple[str, ...]]]
    sources: tuple[str, ...]
    _compiled: _Compiled = field(repr=False, compare=False)
    # The learned scorer bound to these labels (transforms/scorer.py), or None when it is off.
    scorer: Any = field(default=None, repr=False, compare=False)

    @property
    def topics(self) -> tuple[str, ...]:
        """Topic ids in file order."""
        return tuple(label.id for label in self.labels if label.kind == "topic")

    @property
    def signals(self) -> tuple[str, ...]:
        """Signal ids in file order."""
        return tuple(label.id for label in self.labels if label.kind == "signal")


class TaxonomyError(GuanxiError, ValueError):
    """An unreadable or invalid taxonomy file; one line naming the file and key."""


def _fail(source: str, key: str, problem: str) -> ValueError:
    """A one-line error naming the taxonomy file and the offending key."""
    return TaxonomyError(f"taxonomy: invalid {source}: {key}: {problem}".replace("\n", " "))


def _read_file(path: Path) -> dict[str, Any]:
    """Parse a taxonomy file, reporting unreadable or malformed TOML as ValueError."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise _fail(str(path), "(file)", exc.strerror or str(exc)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise _fail(str(path), "(syntax)", str(exc)) from exc


def _string_list(value: Any, source: str, key: str) -> list[str]:
    """Check a list of non-empty strings."""
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise _fail(source, key, "expected a list of non-empty strings")
    return value


def _check_label(raw: Any, source: str, key: str) -> dict[str, Any]:
    """Validate one label table's keys and value types; returns it in canonical form."""
    if not isinstance(raw, dict):
        raise _fail(source, key, "expected a table")
    unknown = sorted(set(raw) - _LABEL_KEYS)
    if unknown:
        raise _fail(source, f"{key}.{unknown[0]}", "unknown key")
    label: dict[str, Any] = {name: _string_list(raw[name], source, f"{key}.{name}") for name in _LIST_KEYS if name in raw}
    for name in label.get("block_when", ()):
        if name not in _BLOCKERS:
            raise _fail(source, f"{key}.block_when", f"unknown context {name!r} (use {', '.join(sorted(_BLOCKERS))})")
    for lang in ("en", "en_ask", "exclude_en"):
        for word in label.get(lang, ()):
            if not _en_phrase(word):
                raise _fail(source, f"{key}.{lang}", f"{word!r} has no English word in it")
    for lang in ("zh", "zh_ask", "exclude_zh"):
        for word in label.get(lang, ()):
            if not _CJK.search(_zh_phrase(word)):
                raise _fail(source, f"{key}.{lang}", f"{word!r} has no Chinese character in it")
    if "description" in raw:
        if not isinstance(raw["description"], str):
            raise _fail(source, f"{key}.description", "expected a string")
        label["description"] = raw["description"]
    if "threshold" in raw:
        threshold = raw["threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold <= 0:
            raise _fail(source, f"{key}.threshold", "expected a number above 0")
        label["threshold"] = float(threshold)
    if "weights" in raw:
        weights = raw["weights"]
        if not isinstance(weights, dict):
            raise _fail(source, f"{key}.weights", "expected a table of keyword = number")
        for word, weight in weights.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
                raise _fail(source, f"{key}.weights.{word}", "expected a number above 0")
        label["weights"] = {word: float(weight) for word, weight in weights.items()}
    if "replace" in raw:
        if not isinstance(raw["replace"], bool):
            raise _fail(source, f"{key}.replace", "expected true or false")
        label["replace"] = raw["replace"]
    return label


def _check_file(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Validate a parsed taxonomy file's structure, returning {inherit, topics, signals, context}."""
    unknown = sorted(set(data) - {"inherit", *_KINDS, "context", "scorer"})
    if unknown:
        raise _fail(source, unknown[0], "unknown key (expected topics, signals, context, scorer or inherit)")
    inherit = data.get("inherit", True)
    if not isinstance(inherit, bool):
        raise _fail(source, "inherit", "expected true or false")
    scorer = data.get("scorer", {})
    if not isinstance(scorer, dict) or set(scorer) - {"enabled"} or not isinstance(scorer.get("enabled", True), bool):
        raise _fail(source, "scorer", "expected a table with enabled = true or false")
    checked: dict[str, Any] = {"inherit": inherit, "context": {}, "scorer": scorer}
    for kind in _KINDS:
        table = data.get(kind, {})
        if not isinstance(table, dict):
            raise _fail(source, kind, "expected a table of labels")
        for label_id in table:
            if not _ID.match(label_id):
                raise _fail(source, f"{kind}.{label_id}", "label ids are lowercase letters, digits and _")
        checked[kind] = {label_id: _check_label(raw, source, f"{kind}.{label_id}") for label_id, raw in table.items()}
    context = data.get("context", {})
    if not isinstance(context, dict):
        raise _fail(source, "context", "expected a table")
    for lang, cues in context.items():
        if lang not in ("en", "zh") or not isinstance(cues, dict):
            raise _fail(source, f"context.{lang}", "expected context.en or context.zh tables")
        for name, value in cues.items():
            if name not in _CONTEXT_KEYS:
                raise _fail(source, f"context.{lang}.{name}", "unknown key")
            if value:
                _string_list(value, source, f"context.{lang}.{name}")
        checked["context"][lang] = {name: list(value) for name, value in cues.items()}
    return checked


def _merge_lists(base: list[str], extra: list[str]) -> list[str]:
    """Append new items, keeping order and dropping duplicates."""
    return base + [item for item in extra if item not in base]


def _layer(base: dict[str, Any], layer: dict[str, Any], source: str, origin: dict[str, str]) -> None:
    """Apply one checked file on top of the merged taxonomy, recording which file touched each label."""
    for kind in _KINDS:
        other = _KINDS[1 - _KINDS.index(kind)]
        for label_id, label in layer[kind].items():
            if label_id in base[other]:
                raise _fail(source, f"{kind}.{label_id}", f"id already used in {other}")
            current = base[kind].get(label_id)
            if current is None or label.get("replace"):
                base[kind][label_id] = {name: value for name, value in label.items() if name != "replace"}
            else:
                for name, value in label.items():
                    if name in _LIST_KEYS:
                        current[name] = _merge_lists(current.get(name, []), value)
                    elif name == "weights":
                        current["weights"] = {**current.get("weights", {}), **value}
                    elif name != "replace":
                        current[name] = value
            origin[label_id] = source
    for lang, cues in layer["context"].items():
        merged = base["context"].setdefault(lang, {})
        for name, value in cues.items():
            merged[name] = _merge_lists(merged.get(name, []), value)
    base["scorer"].update(layer.get("scorer", {}))


def _build(merged: dict[str, Any], origin: dict[str, str], sources: tuple[str, ...]) -> Taxonomy:
    """Cross-check the merged definition and compile it."""
    labels: list[Label] = []
    ids = {label_id for kind in _KINDS for label_id in merged[kind]}
    for kind in _KINDS:
        for label_id, raw in merged[kind].items():
            source, key = origin[label_id], f"{kind}.{label_id}"
            keywords = [word for name in _KEYWORD_KEYS for word in raw.get(name, ())]
            if not keywords:
                raise _fail(source, key, "needs at least one keyword (en, zh, en_ask, zh_ask or emoji)")
            for word in raw.get("weights", {}):
                if word not in keywords:
                    raise _fail(source, f"{key}.weights.{word}", "not a keyword of this label")
            for name in raw.get("suppresses", ()):
                if name not in ids or name == label_id:
                    raise _fail(source, f"{key}.suppresses", f"{name!r} is not another label")
            labels.append(
                Label(
                    id=label_id,
                    kind=kind[:-1],
                    description=raw.get("description", ""),
                    **{name: tuple(raw.get(name, ())) for name in _LIST_KEYS if name not in ("block_when",)},
                    weights=dict(raw.get("weights", {})),
                    threshold=raw.get("threshold", 1.0),
                    block_when=frozenset(raw.get("block_when", ())),
                )
            )
    context = {lang: {name: tuple(cues.get(name, ())) for name in _CONTEXT_KEYS} for lang, cues in merged["context"].items()}
    frozen = tuple(labels)
    compiled = _Compiled(frozen, context)
    compiled.scorer = _bind_scorer(frozen) if merged["scorer"].get("enabled", False) else None
    return Taxonomy(frozen, context, sources, compiled, compiled.scorer)


def _bind_scorer(labels: tuple[Label, ...]) -> Any:
    """The shipped learned scorer tied to these labels, read on first use (None without weights)."""
    from transforms.scorer import WEIGHTS, LazyBound

    return LazyBound(labels) if WEIGHTS.exists() else None


@cache
def _default_layer() -> dict[str, Any]:
    """The bundled taxonomy file, parsed and checked once."""
    return _check_file(_read_file(DEFAULT_TAXONOMY), str(DEFAULT_TAXONOMY))


@cache
def _default_taxonomy() -> Taxonomy:
    """The bundled taxonomy, compiled once per process."""
    return _compose([(str(DEFAULT_TAXONOMY), _default_layer())])


def _compose(layers: list[tuple[str, dict[str, Any]]]) -> Taxonomy:
    """Merge checked layers in order and build the taxonomy."""
    merged: dict[str, Any] = {"topics": {}, "signals": {}, "context": {}, "scorer": {}}
    origin: dict[str, str] = {}
    for source, layer in layers:
        _layer(merged, json.loads(json.dumps(layer)), source, origin)
    return _build(merged, origin, tuple(source for source, _ in layers))


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load the bundled taxonomy, or a user file layered over it; raises ValueError if invalid."""
    if path is None:
        return _default_taxonomy()
    source = str(path)
    layer = _check_file(_read_file(Path(path)), source)
    layers = [(str(DEFAULT_TAXONOMY), _default_layer())] if layer["inherit"] else []
    return _compose([*layers, (source, layer)])


def taxonomy_fingerprint(taxonomy: Taxonomy) -> str:
    """Stable short hash of what the taxonomy matches, to tell when stored tags are stale."""
    payload = {
        "matcher": MATCHER_VERSION,
        "labels": [label.as_dict() for label in taxonomy.labels],
        "context": {lang: {name: list(cues[name]) for name in sorted(cues)} for lang, cues in sorted(taxonomy.context.items())},
        "scorer": taxonomy.scorer.fingerprint if taxonomy.scorer is not None else None,
    }
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# jieba
# --------------------------------------------------------------------------------------------

_JIEBA_LOCK = threading.Lock()
_JIEBA: Any = None
_JIEBA_WORDS: set[str] = set()
# The parts of a cached dictionary state not read yet, by first character (see read_dictionary).
_UNREAD: dict[str, bytes] = {}


_Pairs = tuple[dict[str, None], dict[str, None]]
_PAIRS: dict[tuple[int, int], _Pairs] = {}


def _word_pairs(tokenizer: Any) -> _Pairs:
    """The pairs of adjacent characters inside dictionary words of up to _ZH_WORD_REACH characters,
    and the ~3,000 more found only inside longer words. A keyword boundary whose two neighbours
    are not in the first is never straddled by a word, which settles most boundaries with one
    lookup; the segmenter cuts a block where they are in neither (no word spans them).

    The ~300,000 pairs are kept as the keys of dicts, used as sets: a dict of strings is not
    tracked by the garbage collector, while every full collection visits each entry of a frozenset
    (about 35 ms for these, a few per thousand long posts tagged)."""
    key = (id(tokenizer.FREQ), tokenizer.total)  # words added later change the total
    if key not in _PAIRS:
        _PAIRS.clear()
        words = [word for word, freq in tokenizer.FREQ.items() if freq and len(word) > 1]
        short = dict.fromkeys(word[i : i + 2] for word in words if len(word) <= _ZH_WORD_REACH for i in range(len(word) - 1))
        longer = dict.fromkeys(pair for word in words if len(word) > _ZH_WORD_REACH for i in range(len(word) - 1) if (pair := word[i : i + 2]) not in short)
        _PAIRS[key] = (short, longer)
    return _PAIRS[key]


def _segmenter(compiled: _Compiled) -> Callable[[str], list[str]]:
    """Return a jieba segmenter that knows this taxonomy's words, initialising jieba once (from the
    disk cache of transforms.zh_cache when this taxonomy's state is there, else saved there)."""
    global _JIEBA
    with _JIEBA_LOCK:
        unsaved = None
        if _JIEBA is None:
            _JIEBA, unsaved = _first_jieba(compiled)
        missing = [word for word in compiled.zh_dictionary if word not in _JIEBA_WORDS]
        if missing:
            _read_parts(list(_UNREAD))  # words added change the total and the pairs: all of it first
        for word in missing:
            # No explicit frequency: jieba then picks one that keeps the word whole without
            # letting it swallow neighbours that form a more likely word (被/裁判, not 被裁/判).
            _JIEBA.add_word(word)
            _JIEBA_WORDS.add(word)
        tokenizer = _JIEBA
        # Another taxonomy's words may join the dictionary later: the segmenter is then made again.
        compiled.words_at = len(_JIEBA_WORDS)
        if unsaved is not None:
            from transforms import zh_cache

            zh_cache.save(unsaved, (tokenizer.total, _state_parts(tokenizer.FREQ, *_word_pairs(tokenizer))))

    compiled.zh_sentences.clear()  # they were read with the segmenter and dictionary being replaced
    compiled.zh_units.clear()
    compiled.words = tokenizer.FREQ
    compiled.joins = _word_pairs(tokenizer)[0]

    # HMM guesses unknown words; keywords are all in the dictionary, so it only costs time.
    segment, compiled.units, compiled.sparse = _cut_without_hmm(tokenizer, (*compiled.zh_keys, *compiled.zh_exclude))
    compiled.segment = segment
    return segment


def _first_jieba(compiled: _Compiled) -> tuple[Any, str | None]:
    """The first jieba tokenizer of this process. From the disk cache when it holds this taxonomy's
    state (its words added, its character pairs attached): (tokenizer, None), its dictionary and
    pairs empty until read_dictionary reads the parts a post needs. Otherwise jieba's own
    dictionary and the key to save the state under once it is prepared. The state is a pure
    function of jieba's dictionary and the taxonomy's Chinese words (the key)."""
    from transforms import zh_cache
    from transforms.lang import jieba_identity

    key = zh_cache.cache_key(jieba_identity(), MATCHER_VERSION, _ZH_STATE_FORMAT, _ZH_WORD_REACH, compiled.zh_dictionary, sorted(compiled.zh_keys))
    state = zh_cache.load(key)
    if not (isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict)):  # none, or not of this form
        return new_jieba_tokenizer(), key
    total, parts = state
    tokenizer = new_jieba_tokenizer({}, total)
    _JIEBA_WORDS.update(compiled.zh_dictionary)
    _PAIRS.clear()
    _PAIRS[(id(tokenizer.FREQ), tokenizer.total)] = ({}, {})
    _UNREAD.clear()
    _UNREAD.update(parts)
    return tokenizer, None


def _state_parts(freq: Mapping[str, int], pairs: Mapping[str, None], long_pairs: Mapping[str, None]) -> dict[str, bytes]:
    """jieba's dictionary, the pairs inside its short words and those only its longer words hold
    (see _word_pairs), split by first character, each part packed on its own
    (transforms.zh_cache.pack), to be read only when a post needs it."""
    from transforms import zh_cache

    by_first: dict[str, tuple[dict[str, int], dict[str, None], dict[str, None]]] = {}
    for at, entries in enumerate((freq, pairs, long_pairs)):
        for entry, value in entries.items():
            by_first.setdefault(entry[0], ({}, {}, {}))[at][entry] = value  # type: ignore[index]
    return {first: zh_cache.pack(part) for first, part in by_first.items()}


def _read_parts(firsts: Iterable[str]) -> None:
    """Merge the unread parts of these first characters into jieba's dictionary and the pairs
    (with _JIEBA_LOCK held). A part is dropped from _UNREAD only once merged, so a reader on
    another thread never takes it for read before it is."""
    from transforms import zh_cache

    if not _UNREAD:
        return
    freq = _JIEBA.FREQ
    pairs, long_pairs = _PAIRS[(id(freq), _JIEBA.total)]
    for first in firsts:
        blob = _UNREAD.get(first)
        if blob is not None:
            words, inside, long_inside = zh_cache.unpack(blob)
            freq.update(words)
            pairs.update(inside)
            long_pairs.update(long_inside)
            del _UNREAD[first]


def read_dictionary(text: str | None = None) -> None:
    """Read the parts of the cached Chinese dictionary state that words starting with one of
    `text`'s characters are in (the whole of it when None).

    A process that loads the state from the disk cache reads only its total and an index: building
    the ~800,000 entries of jieba's dictionary and the pairs costs about 0.3 s of CPU, and one post
    needs the few thousand under its own characters. Every lookup the tagger makes is of a slice of
    the post starting at one of its characters, so the tagger reads those first (and all of it
    before adding words). A process that forks workers reads all of it first (connectors.sources
    batch_tagger), so they share it rather than each build their own."""
    if _UNREAD:
        with _JIEBA_LOCK:
            _read_parts(list(_UNREAD) if text is None else set(text))
        if text is None:
            _give_back_freed_memory()


def _give_back_freed_memory() -> None:
    """Hand the memory freed by reading the parts back to the system (glibc's malloc_trim; elsewhere
    nothing): the parts' bytes lay scattered among the entries that stay, so the allocator keeps
    about 25 MB it no longer uses, which a process forking workers would hold throughout."""
    from guanxi.memory import trim_heap

    trim_heap()


_UNCUT = object()  # a piece not cut yet
# Clauses longer than this are read in units (see _zh_unit_hits), and how many units' hits are
# kept (a few MB at most).
_UNIT_CLAUSE_CHARS = 40
_UNIT_CACHE_LIMIT = 20_000


def _cut_without_hmm(
    tokenizer: Any, keywords: Iterable[str] = ()
) -> tuple[Callable[[str], list[str]], Callable[[str], list[_Unit] | None], Callable[..., _UnitAt | None]]:
    """tokenizer.lcut(text, HMM=False), word for word, in one pass per block: jieba builds a dict
    DAG and takes a logarithm per candidate word and call; here each word's score is computed once
    (for the dictionary's current total) and the DAG is walked in place.

    A block is also cut where no dictionary word spans two neighbouring characters: jieba's best
    path must pass there, so each piece's best cut is its own and is kept per piece (long posts
    and everyday phrases repeat them). A piece whose cut hangs on a near tie (within
    _ROUTE_MARGIN, where rounding could tip it) is not trusted: that block is cut whole.

    Returns that segmenter, `units`, the same cut in units that none of `keywords` can span
    (see _Unit), and `sparse`, a few of those units without cutting the whole clause."""
    jieba = sys.modules[type(tokenizer).__module__]
    han, skip, eng = jieba.re_han_default, jieba.re_skip_default, jieba.re_eng
    # Characters outside jieba's word blocks that keywords hold ("过了!", "「毕业」"): a keyword may
    # span the block edge next to one, so units are never cut there.
    sticky = frozenset(char for word in keywords for char in word if not han.match(char))
    # The same as one class to search for: set.isdisjoint(clause) makes an object of each character.
    any_sticky = re.compile("[" + "".join(map(re.escape, sorted(sticky))) + "]" if sticky else r"(?!)")
    freq = tokenizer.FREQ
    scores: dict[str, float] = {}
    pieces: dict[str, tuple[str, ...] | None] = {}
    total = [0]  # the dictionary total the scores (and pieces) were computed for
    joined, long_joined = _word_pairs(tokenizer)  # neighbouring characters inside some dictionary word

    def route(text: str, logtotal: float, careful: bool) -> tuple[str, ...] | None:
        """The best cut of `text`; when `careful`, None if any choice in it is a near tie."""
        n = len(text)
        best_score = [0.0] * (n + 1)
        best_end = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            top, top_x, second = 0.0, -1, -inf
            i, frag = k, text[k]
            while i < n and frag in freq:
                if freq[frag]:
                    score = scores.get(frag)
                    if score is None:
                        score = scores[frag] = log(freq[frag]) - logtotal
                    score += best_score[i + 1]
                    if top_x < 0 or score >= top:
                        if top_x >= 0:
                            second = top
                        top, top_x = score, i
                    elif score > second:
                        second = score
                i += 1
                frag = text[k : i + 1]
            if top_x < 0:  # no dictionary word starts here: the character alone
                char = text[k]
                top, top_x = log(freq.get(char) or 1) - logtotal + best_score[k + 1], k
            elif careful and top - second < _ROUTE_MARGIN:
                return None
            best_score[k], best_end[k] = top, top_x
        words, x = [], 0
        while x < n:
            y = best_end[x] + 1
            words.append(text[x:y])
            x = y
        return tuple(words)

    def piece_cut(piece: str, logtotal: float) -> tuple[str, ...] | None:
        """A piece's best cut (None if not trusted), kept for short pieces."""
        if piece in pieces:
            return pieces[piece]
        best = route(piece, logtotal, True)
        if len(piece) <= _PIECE_CACHE_CHARS:
            if len(pieces) >= _PIECE_CACHE_LIMIT:
                pieces.clear()
            pieces[piece] = best
        return best

    def by_pieces(text: str, cuts: list[int], logtotal: float) -> list[str] | None:
        """The block's cut put together from its pieces' cuts; None if one of them is not trusted."""
        words: list[str] = []
        at = 0
        for cut in (*cuts, len(text)):
            best = piece_cut(text[at:cut], logtotal)
            if best is None:
                return None
            words += best
            at = cut
        return words

    def current() -> float:
        """log(total), after forgetting scores and pieces if words were added since (jieba's
        scores changed too)."""
        if total[0] != tokenizer.total:
            scores.clear()
            pieces.clear()
            total[0] = tokenizer.total
        return log(tokenizer.total)

    def block_cuts(text: str) -> list[int]:
        """Where no dictionary word spans the two neighbouring characters."""
        return [p for p in range(1, len(text)) if (pair := text[p - 1 : p + 1]) not in joined and pair not in long_joined]

    def merge_letters(words: Iterable[str], out: list[str]) -> None:
        """jieba's last step: runs of single Latin letters or digits become one word."""
        buf = ""
        for word in words:
            if len(word) == 1 and eng.match(word):
                buf += word
            else:
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(word)
        if buf:
            out.append(buf)

    def cut_block(text: str, out: list[str]) -> None:
        logtotal = current()
        cuts = block_cuts(text)
        words = by_pieces(text, cuts, logtotal) if cuts else None
        if words is None:
            words = route(text, logtotal, False) or ()
        merge_letters(words, out)

    def units(clause: str) -> list[_Unit] | None:
        """segment(clause) in units, or None when a piece's cut is not trusted (or the clause holds
        a space): then only the whole block's cut is jieba's. Units are cut where jieba's are: at a
        piece edge that is not between two Latin letters or digits (those may merge), and at a
        block edge with no sticky character beside it. A trusted piece's cut is the same alone as
        inside its block: every path passes its ends, so its choices differ only by the same
        rest-of-block score, far below _ROUTE_MARGIN."""
        logtotal = current()
        out: list[_Unit] = []
        for block in han.split(clause):
            if not block:
                continue
            if not han.match(block):
                if skip.search(block):
                    return None
                for char in block:
                    if out and (char in sticky or out[-1][0][-1] in sticky):
                        out[-1] = (out[-1][0] + char, (*out[-1][1], char))
                    else:
                        out.append((char, (char,)))
                continue
            cuts = block_cuts(block)
            texts = [block[a:b] for a, b in zip((0, *cuts), (*cuts, len(block)))] if cuts else [block]
            bests = list(map(pieces.get, texts, repeat(_UNCUT)))
            if _UNCUT in bests:
                bests = [piece_cut(text, logtotal) if best is _UNCUT else best for text, best in zip(texts, bests)]
            if None in bests:
                return None
            first = len(out)
            if not eng.search(block):  # the usual case: each piece is a unit
                out += zip(texts, bests)
            else:
                for i, (text, best) in enumerate(zip(texts, bests)):
                    if i and eng.match(texts[i - 1][-1]) and eng.match(text[0]):
                        out[-1] = (out[-1][0] + text, out[-1][1] + best)
                    else:
                        out.append((text, best))
                for i in range(first, len(out)):
                    merged: list[str] = []
                    merge_letters(out[i][1], merged)
                    out[i] = (out[i][0], tuple(merged))
            if first and out[first - 1][0][-1] in sticky:  # the block's first piece joins a sticky unit
                out[first - 1 : first + 1] = [(out[first - 1][0] + out[first][0], out[first - 1][1] + out[first][1])]
        return out

    def sparse(clause: str) -> Callable[[int, int], tuple[int, int, tuple[str, ...] | None]] | None:
        """For a clause of the simple kind, where units(clause) are the pieces of its blocks and the
        characters outside them, `unit_at(a, b)`: the unit holding clause[a:b] (inside one block:
        it is in a dictionary word, or the character before a unit), as (start, end, its words or
        None when that cut is not trusted). It walks from the span to the nearest cut on either
        side, where cutting the whole clause costs a pair lookup per character, most of them far
        from anything worth reading. None for another kind of clause: one with a Latin letter or
        digit (units may merge there) or a character keywords hold outside jieba's blocks (units
        join there; without one, every keyword in the clause is inside a block)."""
        if eng.search(clause) or any_sticky.search(clause):
            return None
        logtotal = current()
        blocks = [match.span() for match in han.finditer(clause)]

        def unit_at(a: int, b: int) -> tuple[int, int, tuple[str, ...] | None]:
            k = bisect_right(blocks, a, key=itemgetter(0)) - 1
            if k < 0 or a >= blocks[k][1]:  # a character outside blocks
                return a, a + 1, (clause[a],)
            low, high = blocks[k]
            while a > low and ((pair := clause[a - 1 : a + 1]) in joined or pair in long_joined):
                a -= 1
            while b < high and ((pair := clause[b - 1 : b + 1]) in joined or pair in long_joined):
                b += 1
            text = clause[a:b]
            words = pieces.get(text, _UNCUT)
            return a, b, piece_cut(text, logtotal) if words is _UNCUT else words  # type: ignore[return-value]

        return unit_at

    def segment(clause: str) -> list[str]:
        out: list[str] = []
        for block in han.split(clause):
            if not block:
                continue
            if han.match(block):
                cut_block(block, out)
            else:
                for part in skip.split(block):
                    if skip.match(part):
                        out.append(part)
                    else:
                        out.extend(part)
        return out

    return segment, units, sparse


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


# A unit of a clause as jieba cuts it: (its text, its words). Units are cut only where no keyword or
# exclusion can span the cut, so a keyword is found inside a unit or not at all.
_Unit = tuple[str, tuple[str, ...]]
# The unit holding a span of a clause: (start, end, its words or None), see sparse in _cut_without_hmm.
_UnitAt = Callable[[int, int], tuple[int, int, tuple[str, ...] | None]]


class _Hit(NamedTuple):
    """A keyword occurrence in a sentence, before context checks."""

    key: _Key
    start: int
    end: int
    surface: str


def _is_question(sentence: str, stems: list[str], compiled: _Compiled) -> bool:
    """Whether a sentence asks or requests something: a question mark or a request cue."""
    if "?" in sentence:
        return True
    if stems:
        joined = " " + " ".join(stems) + " "
        if any(f" {cue} " in joined for cue in compiled.en_cues.question):
            return True
    return bool(_CJK.search(sentence)) and any(cue in sentence for cue in compiled.zh_cues.question)


def _scan_back(tokens: list[str], start: int, window: int, cues: frozenset[str], stops: frozenset[str]) -> int:
    """Index of the nearest cue within `window` tokens before `start` in the same scope, or -1."""
    for j in range(start - 1, max(start - window, 0) - 1, -1):
        token = tokens[j]
        if token in stops or token in _PUNCT_TOKENS:
            return -1
        if token in cues:
            return j
    return -1


def _negated(tokens: list[str], start: int, cues: _Cues) -> bool:
    """A negation shortly before the hit, unless it negates something else ("can't believe")."""
    j = _scan_back(tokens, start, _NEGATION_WINDOW, cues.negation, cues.scope_breakers)
    return j >= 0 and tokens[j + 1] not in cues.negation_breakers


def _hedged(tokens: list[str], start: int, cues: _Cues) -> bool:
    """A hedge (if, hope, 如果, 希望 ...) before the hit in the same clause."""
    return _scan_back(tokens, start, _HEDGE_WINDOW, cues.hedge, cues.scope_breakers) >= 0


def _en_third_party(stems: list[str], start: int, end: int, owner: dict[str, str]) -> bool:
    """Whether the nearest ownership cue points at someone other than the poster or family."""
    for j in range(start - 1, max(start - _OWNER_BACK, 0) - 1, -1):
        kind = owner.get(stems[j])
        if kind:
            return kind == "third"
        if stems[j] in _SENTENCE_END:
            break
    for j in range(end, min(end + _OWNER_AHEAD, len(stems))):
        if stems[j] in _PUNCT_TOKENS:
            break
        kind = owner.get(stems[j])
        if kind:
            # "happy birthday to my (best) friend": the noun after "my" says whose birthday it is.
            if kind == "own":
                kind = owner.get(" ".join(stems[j + 1 : j + 3])) or next(
                    (owner[s] for s in stems[j + 1 : j + 3] if s in owner), kind)
            return kind == "third"
    return False


def _zh_third_party(sentence: str, start: int, end: int, owner: dict[str, str]) -> bool:
    """Chinese counterpart of _en_third_party, on characters: the cue closest to the hit decides."""
    pattern = _owner_pattern(owner)
    kind = None
    best = -1
    for match in pattern.finditer(sentence, max(start - _ZH_OWNER_BACK, 0), start):
        if match.end() > best:
            best, kind = match.end(), owner[match.group()]
    if kind is None:
        after = _ZH_CLAUSE.match(sentence, end)
        if after:
            match = pattern.search(after.group()[:_ZH_OWNER_AHEAD])
            kind = owner[match.group()] if match else None
    return kind == "third"


_OWNER_PATTERNS: dict[int, tuple[dict[str, str], re.Pattern[str]]] = {}


def _owner_pattern(owner: dict[str, str]) -> re.Pattern[str]:
    """One regex for a cue table (longest cue first at each position), compiled once per table."""
    entry = _OWNER_PATTERNS.get(id(owner))
    if entry is None or entry[0] is not owner:
        entry = _OWNER_PATTERNS[id(owner)] = (owner, re.compile("|".join(map(re.escape, sorted(owner, key=len, reverse=True)))))
    return entry[1]


def _about_public_figure(sentence: str, cues: tuple[str, ...], pad: str) -> bool:
    """Whether the sentence is about a public figure or the news (a celebrity's death or divorce is
    not the poster's hardship); English cues are padded with spaces to match whole stems."""
    return any(f"{pad}{cue}{pad}" in sentence for cue in cues)


def _hit_order(hit: _Hit) -> tuple[int, int]:
    """Hits in text order, the longer first where two start together."""
    return hit.start, hit.start - hit.end


def _keep(hits: list[_Hit], excluded: list[tuple[int, int, int]]) -> list[_Hit]:
    """Drop hits covered by one of their label's exclusions or by a longer hit of the same label."""
    if len(hits) == 1 and not excluded:
        return hits
    kept: list[_Hit] = []
    covered: dict[int, int] = {}
    for hit in sorted(hits, key=_hit_order) if len(hits) > 1 else hits:
        label = hit.key.label
        if hit.start < covered.get(label, -1):
            continue
        if excluded and any(lab == label and s < hit.end and hit.start < e for lab, s, e in excluded):
            continue
        covered[label] = hit.end
        kept.append(hit)
    return kept


class _Tally:
    """Distinct keywords (with weights) and evidence found per label in one post."""

    def __init__(self) -> None:
        self.weights: dict[int, dict[str, float]] = {}
        self.evidence: dict[int, list[str]] = {}
        # Labels with a hit that was read in context; those never tallied were blocked by it.
        self.read: set[int] = set()
        self.pairs: set[tuple[_Key, str]] = set()  # what was added: has() holds for each

    def add(self, key: _Key, surface: str) -> None:
        """Count a keyword once per post, and remember how it appeared."""
        self.pairs.add((key, surface))
        self.weights.setdefault(key.label, {})[key.keyword] = key.weight
        seen = self.evidence.setdefault(key.label, [])
        if surface not in seen:
            seen.append(surface)

    def has(self, key: _Key, surface: str) -> bool:
        """Whether this keyword and surface are already counted: context only ever blocks a hit, so
        a repeat cannot change the result and needs no reading."""
        weights = self.weights.get(key.label)
        return weights is not None and key.keyword in weights and surface in self.evidence[key.label]

    def has_all(self, parts: tuple[tuple[int, str, str], ...]) -> bool:
        """Whether every (label, keyword, surface) is already counted, so a repeat adds nothing."""
        weights, evidence = self.weights, self.evidence
        return all(keyword in weights.get(label, ()) and surface in evidence[label] for label, keyword, surface in parts)


# A sentence's reading: the (keyword, surface) pairs it lets count, those it left unread because
# the post had counted them already, and the labels whose hits it read in context.
_Counted = tuple[tuple[tuple[_Key, str], ...], tuple[tuple[_Key, str], ...], frozenset[int]]


class _Reading:
    """Collects one sentence's reading (see _Counted) while its hits are checked and counted in
    the post's tally."""

    def __init__(self, tally: _Tally) -> None:
        self.tally = tally
        self.here = _Tally()  # what this sentence counted
        self.counted: list[tuple[_Key, str]] = []
        self.unknown: list[tuple[_Key, str]] = []
        self.read: set[int] = set()

    def settled(self, hit: _Hit) -> bool:
        """Whether the hit needs no reading: counting it again would change nothing."""
        if not self.tally.has(hit.key, hit.surface):
            return False
        if not self.here.has(hit.key, hit.surface):
            self.unknown.append((hit.key, hit.surface))
        return True

    def all_settled(self, hits: Iterable[_Hit], pairs: frozenset[tuple[_Key, str]]) -> bool:
        """Whether the post has counted every one of `hits` (their `pairs`) already, as settled()
        for each would find; a quick check, in C, that may miss some (they are then read)."""
        if not self.tally.pairs.issuperset(pairs):
            return False
        for hit in hits:
            if not self.here.has(hit.key, hit.surface):
                self.unknown.append((hit.key, hit.surface))
        return True

    def reads(self, hit: _Hit) -> None:
        """The hit's context is being read (the scorer learns which labels it blocked)."""
        self.tally.read.add(hit.key.label)
        self.read.add(hit.key.label)

    def count(self, hit: _Hit) -> None:
        """The hit survived its context."""
        self.tally.add(hit.key, hit.surface)
        self.here.add(hit.key, hit.surface)
        self.counted.append((hit.key, hit.surface))

    def result(self) -> _Counted:
        return tuple(self.counted), tuple(self.unknown), frozenset(self.read)


def _recall(known: dict[Any, _Counted], key: Any, tally: _Tally, read: Callable[[], _Counted]) -> None:
    """Tally a sentence's reading, kept under `key` or made by `read()`. Posts repeat sentences
    (quotes, signatures, reposts, long threads), and a reading depends only on its sentence; it
    holds for any post that has counted what it left unread, as counting twice changes nothing."""
    reading = known.get(key)
    if reading is None or (reading[1] and not all(tally.has(*pair) for pair in reading[1])):
        if len(known) >= _SENTENCE_CACHE_LIMIT:
            known.clear()
        known[key] = read()  # which has counted it in `tally`
        return
    for key_, surface in reading[0]:
        tally.add(key_, surface)
    tally.read.update(reading[2])


def _en_sentence(ends: list[int], at: int, n: int) -> tuple[int, int]:
    """Token range of the sentence holding token `at` (its closing punctuation included), given the
    sorted indices of sentence-end tokens among the post's n tokens."""
    k = bisect_left(ends, at)
    return ends[k - 1] + 1 if k else 0, ends[k] + 1 if k < len(ends) else n


def _match_en(norm: str, compiled: _Compiled, tally: _Tally) -> None:
    """Find English keywords in a whole post and keep those their context allows. Keywords that
    need no context are tallied at once; the rest are read within their sentence."""
    tokens = _EN_POST_TOKEN.findall(norm)
    stems = _en_stems(tokens)
    hits, excluded, _ = _en_hits(tokens, stems, compiled, tally)
    if not hits:
        return
    n = len(stems)
    cues = compiled.en_cues
    sentences: dict[int, tuple[int, int, bool | None, bool | None]] = {}
    ends: list[int] | None = None
    for hit in _keep(hits, excluded):
        if tally.has(hit.key, hit.surface):
            continue
        blocks = compiled.blocks[hit.key.label]
        if not blocks and not hit.key.ask:
            tally.add(hit.key, hit.surface)
            continue
        tally.read.add(hit.key.label)
        if ends is None:  # sentence ends, once per post and only when a hit needs its sentence
            ends = [j for j, stem in enumerate(stems) if stem in _SENTENCE_END]
        s0, s1 = _en_sentence(ends, hit.start, n)
        if (hit.key.ask or "question" in blocks) and _en_question(stems, s0, s1, compiled, sentences) != hit.key.ask:
            continue
        if "negated" in blocks and _negated(stems, hit.start, cues):
            continue
        if "hedged" in blocks and _hedged(stems, hit.start, cues):
            continue
        if "third_party" in blocks and _en_third_party(stems, hit.start, hit.end, cues.owner):
            continue
        if "public" in blocks and _about_public_figure(" " + " ".join(stems[s0:s1]) + " ", cues.public, " "):
            continue
        tally.add(hit.key, hit.surface)


def _en_hits(tokens: list[str], stems: list[str], compiled: _Compiled, tally: _Tally) -> tuple[list[_Hit], list[tuple[int, int, int]], int]:
    """A post's keyword hits and exclusions (token positions), and how many hits left out were put
    back; keywords that need no context at all are tallied at once. A one-word hit that needs no
    context is listed once per keyword and surface: its repeats would only find it counted. That
    holds unless one of them may be dropped (covered by an exclusion or a longer keyword of its
    label), so when a label with such repeats has a longer hit or an exclusion in the post, its
    repeats are put back (after the rest: hits in one place are of different labels)."""
    firsts, fast, lookup, n = compiled.en_firsts, compiled.en_fast, compiled.en_next, len(stems)
    free, simple = compiled.en_free, compiled.en_simple
    hits: list[_Hit] = []
    excluded: list[tuple[int, int, int]] = []
    done: set[str] = set()
    listed: set[tuple[_Key, str]] = set()
    seen: set[str] = set()  # tokens of simple stems (see _Compiled.en_simple) already listed
    left_out: list[tuple[_Key, int]] = []  # repeats not listed
    left_at: list[int] = []  # positions of simple stems' repeats not listed
    wide: set[int] = set()  # labels with a longer hit or an exclusion
    last = n - 1
    for i in [i for i, stem in enumerate(stems) if stem in firsts]:
        stem = stems[i]
        simple_keys = simple.get(stem)
        if simple_keys is not None:
            surface = tokens[i]
            if surface in seen:
                left_at.append(i)
            else:
                seen.add(surface)
                hits += (_Hit(key, i, i + 1, surface) for key in simple_keys)
            continue
        if stem in done:
            continue
        key = fast.get(stem)
        if key is not None:
            tally.add(key, tokens[i])
            done.add(stem)
            continue
        by_next, alone = lookup[stem]
        keys, exclude = (by_next.get(stems[i + 1]) or alone) if i < last else alone
        for phrase, label in exclude:
            if tuple(stems[i : i + len(phrase)]) == phrase:
                excluded.append((label, i, i + len(phrase)))
                wide.add(label)
        for phrase, key in keys:
            size = len(phrase)
            if size == 1:
                surface = tokens[i]
                if key in free:
                    if (key, surface) in listed:
                        left_out.append((key, i))
                        continue
                    listed.add((key, surface))
                hits.append(_Hit(key, i, i + 1, surface))
            elif i + size <= n and tuple(stems[i : i + size]) == phrase:
                hits.append(_Hit(key, i, i + size, " ".join(tokens[i : i + size])))
                wide.add(key.label)
    left_out += ((key, i) for i in left_at for key in simple[stems[i]])
    back = [_Hit(key, i, i + 1, tokens[i]) for key, i in left_out if key.label in wide] if wide else []
    return hits + back if back else hits, excluded, len(back)


def _en_question(stems: list[str], s0: int, s1: int, compiled: _Compiled, cache: dict[int, Any]) -> bool:
    """Whether the sentence stems[s0:s1] asks or requests something, computed once per sentence."""
    asked = cache.get(s0)
    if asked is None:
        asked = cache[s0] = "?" in stems[s0:s1] or _is_question("", stems[s0:s1], compiled)
    return asked


def _zh_clause_hits(tokens: list[str], compiled: _Compiled) -> tuple[list[_Hit], list[tuple[int, int, int]]]:
    """Keyword and exclusion occurrences made of whole jieba words (or a prefix/suffix of one)."""
    hits: list[_Hit] = []
    excluded: list[tuple[int, int, int]] = []
    keys, exclude, heads, n = compiled.zh_keys, compiled.zh_exclude, compiled.zh_heads, len(tokens)
    # Only words that begin a keyword or exclusion, or are long enough to hold one as an affix,
    # start a hit; and words are joined only while they still begin one.
    for i in [i for i, token in enumerate(tokens) if token in heads or len(token) > 2]:
        word = ""
        for j in range(i, min(n, i + _ZH_MAX_TOKENS)):
            word += tokens[j]
            if word not in heads:
                break
            for key in keys.get(word, ()):
                hits.append(_Hit(key, i, j + 1, word))
            for label in exclude.get(word, ()):
                excluded.append((label, i, j + 1))
        token = tokens[i]
        if len(token) > 2:
            affixes = compiled.affixes.get(token)
            if affixes is None:
                affixes = compiled.affixes[token] = _affix_keys(token, keys)
            hits.extend(_Hit(key, i, i + 1, part) for part, key in affixes)
    return hits, excluded


def _unit_entry(text: str, unit: tuple[str, ...], compiled: _Compiled, keep: bool = True) -> tuple[Any, ...]:
    """A unit's hits and exclusions (positions in its own words), whether every hit counts whatever
    its context, and the hits' (keyword, surface) pairs; then the hits that survive its
    exclusions and longer hits (_keep) and their pairs. () for none. Kept per unit text (if `keep`:
    a unit's words are its text's own unless its cut was not trusted)."""
    known = compiled.zh_units if keep else {}
    if len(known) >= _UNIT_CACHE_LIMIT:
        known.clear()
    found, gone = _zh_clause_hits(list(unit), compiled)
    free = all(not hit.key.ask and not compiled.blocks[hit.key.label] for hit in found)
    # Tuples: once the collector has seen them it stops tracking them (lists it never does).
    pairs = frozenset((hit.key, hit.surface) for hit in found)
    kept = tuple(_keep(found, gone))
    entry = known[text] = (tuple(found), tuple(gone), free, pairs, kept, frozenset((hit.key, hit.surface) for hit in kept)) if found or gone else ()
    return entry


def _zh_unit_hits(
    units: list[_Unit], compiled: _Compiled, reading: _Reading
) -> tuple[list[str], list[_Hit], list[tuple[int, int, int]]]:
    """_zh_clause_hits over a clause's units: (its words, hits, exclusions), each unit's found once
    and kept. No hit or exclusion reaches beyond its unit, so units never interact, and a unit
    that cannot change the tally is left out: one whose hits the post has all counted already
    (as settled, for `reading`), and a repeat in the same clause of one whose hits all count
    whatever their context (its first occurrence counts or settles each of them)."""
    words = list(map(itemgetter(1), units))
    tokens = list(chain.from_iterable(words))
    hits: list[_Hit] = []
    excluded: list[tuple[int, int, int]] = []
    known = compiled.zh_units
    again: set[str] = set()
    for (text, unit), at in zip(units, accumulate(map(len, words), initial=0)):
        entry = known.get(text)
        if entry is None:
            entry = _unit_entry(text, unit, compiled)
        if not entry:
            continue
        found, gone, free, pairs = entry[:4]
        if free:
            if text in again:
                continue
            again.add(text)
        if reading.all_settled(found, pairs):
            continue
        if at:
            hits += [_Hit(hit.key, hit.start + at, hit.end + at, hit.surface) for hit in found]
            excluded += [(label, start + at, end + at) for label, start, end in gone]
        else:
            hits += found
            excluded += gone
    return tokens, hits, excluded


# Words before a hit that the negation and hedge readers look over.
_ZH_BACK_WORDS = max(_NEGATION_WINDOW, _HEDGE_WINDOW)


class _Window:
    """A long clause of a sentence whose reading is not kept, read only around the scan matches
    still to be read and the loud ones (see _Compiled.zh_loud), as the hits are read: every other
    unit's hits are keywords inside matches left unread as counted, so it could change nothing.
    The units read so far have their words one after another in `tokens` (a "\n" wherever the
    clause goes on between two, and after the last), with each word's offset in the clause in
    `offsets` (a "\n" has the end of the unit before it)."""

    def __init__(self, clause: str, unit_at: _UnitAt, compiled: _Compiled, tally: _Tally) -> None:
        self.clause, self.unit_at, self.compiled, self.tally = clause, unit_at, compiled, tally
        self.tokens: list[str] = []
        self.offsets: list[int] = []
        self.runs: list[int] = []  # where each run of neighbouring units starts in tokens
        self.whole: tuple[list[str], list[int]] | None = None  # jieba's cut of the whole clause, if needed

    def unit(self, a: int, b: int) -> tuple[int, int, tuple[str, ...], bool]:
        """unit_at(a, b) and whether its cut is the piece's own (trusted); when it is not, the
        clause is cut whole, as units(clause) would then be None, and the unit's words are those
        of that cut (it passes the unit's edges, where no dictionary word spans the pair)."""
        start, end, words = self.unit_at(a, b)
        if words is not None:
            return start, end, words, True
        if self.whole is None:
            tokens = self.compiled.segment(self.clause)  # type: ignore[misc]
            self.whole = tokens, [0, *accumulate(map(len, tokens))]
        tokens, offsets = self.whole
        first = bisect_left(offsets, start)
        return start, end, tuple(tokens[first : bisect_left(offsets, end, first)]), False

    def units(self, matches: list[tuple[int, int, str]]) -> Iterator[tuple[frozenset[Any], tuple[_Hit, ...], int]]:
        """Per unit to be read, (the pairs whose being counted settles all its hits, its hits, where
        its words start in tokens), in clause order, from the clause's matches (start, end, word)
        in order. What the post has counted by the time a unit comes is left out, read lazily: a
        match whose keywords are all counted (unless loud), a unit whose surviving hits are, and
        a repeat of a unit whose hits need no context (as _zh_unit_hits does)."""
        compiled, tally, clause, tokens, offsets = self.compiled, self.tally, self.clause, self.tokens, self.offsets
        known, counted, parts, loud = compiled.zh_units, tally.pairs, compiled.zh_parts, compiled.zh_loud
        again: set[str] = set()
        end = last = -1  # where the last unit read ends, and the last one in tokens
        for a, b, word in matches:
            if a < end:
                continue
            if not loud[word] and tally.has_all(parts[word]):
                continue
            start, end, words, trusted = self.unit(a, b)
            text = clause[start:end]
            entry = known.get(text) if trusted else None
            if entry is None:
                entry = _unit_entry(text, words, compiled, trusted)
            if not entry:
                continue
            free, kept, settles = entry[2], entry[4], entry[5]
            if free:
                if text in again:
                    continue
                again.add(text)
            if counted.issuperset(settles):
                continue
            if start == last:  # next to the unit before: one run
                tokens.pop()
                offsets.pop()
            else:
                self.runs.append(len(tokens))
            shift = len(tokens)
            for one in words:
                tokens.append(one)
                offsets.append(start)
                start += len(one)
            tokens.append("\n")
            offsets.append(start)
            last = start
            yield settles, kept, shift

    def back(self, at: int) -> tuple[list[str], int]:
        """Words ending with the one at `at` (in tokens) with at least _ZH_BACK_WORDS before it
        (fewer at the clause's start), and its index there, for the negation and hedge readers."""
        run = self.runs[bisect_right(self.runs, at) - 1]
        start = self.offsets[run]
        if at - run >= _ZH_BACK_WORDS or not start:
            return self.tokens, at
        need = _ZH_BACK_WORDS - (at - run)
        words: list[str] = []
        while start and len(words) < need:
            start, _, cut, _ = self.unit(start - 1, start)
            words[:0] = cut
        return [*words, *self.tokens[run : at + 1]], len(words) + at - run


def _clause_matches(matches: Iterable[tuple[int, str]], c0: int, c1: int) -> list[tuple[int, int, str]]:
    """The parts inside clause [c0, c1) of a sentence's matches (offset, word), in clause offsets
    and order: (start, end, word)."""
    inside = []
    for at, word in matches:
        end = at + len(word)
        if at < c1 and end > c0:
            inside.append((max(at, c0) - c0, min(end, c1) - c0, word))
    inside.sort()
    return inside


def _affix_keys(token: str, keys: Mapping[str, list[_Key]]) -> tuple[tuple[str, _Key], ...]:
    """Keywords that head or tail a longer jieba word; jieba keeps compounds such as 篮球赛 or
    毕业典礼 whole, and their keyword still counts. Single characters never match this way
    (熊猫 is not 猫)."""
    parts = {token[:k] for k in range(2, len(token))} | {token[k:] for k in range(1, len(token) - 1)}
    return tuple((part, key) for part in sorted(parts) for key in keys.get(part, ()))


def _straddled(text: str, start: int, end: int, words: Mapping[str, int]) -> bool:
    """_ambiguous, looking only where a word can straddle: words starting before `start` and ending
    inside the keyword or past its end (a keyword of one character: also at its end), then words
    starting inside it (a keyword of one character: at its start) and ending past its end. A walk
    from a start stops at the first text that is no word's prefix (jieba's dictionary holds every
    prefix of its words, with frequency 0). Bounds are plain comparisons: min() and max() cost
    more than the lookups here."""
    get, n, reach, single = words.get, len(text), _ZH_WORD_REACH, end - start == 1
    right = end - reach + 1
    if right <= start:
        right = start if single else start + 1
    # (first start, last start + 1, first end, the one end that is fine: a longer word that merely
    # extends a keyword of two or more characters)
    for a, stop, low, fine in ((start - reach + 1 if start >= reach else 0, start, start + 1, -1 if single else end), (right, end, end + 1, -1)):
        while a < stop:
            for b in range(low, a + reach + 1 if a + reach < n else n + 1):
                freq = get(text[a:b])
                if freq is None:
                    break
                if freq and b != fine:
                    return True
            a += 1
    return False


def _ambiguous(text: str, start: int, end: int, words: Mapping[str, int]) -> bool:
    """Whether a dictionary word straddles a boundary of text[start:end], so that jieba might cut it
    differently (被裁|判 -> 被/裁判, 熊|猫 -> 熊猫). A longer word that merely extends a keyword of two
    or more characters (篮球赛, 毕业典礼) is fine: such affixes match under jieba too.

    jieba's dictionary also holds every prefix of its words (with frequency 0), so a candidate
    stops growing as soon as it is no word's prefix."""
    size, n = end - start, len(text)
    for a in range(max(start - _ZH_WORD_REACH + 1, 0), end):
        # Words from a that would straddle: across `start` if a < start, else across `end`.
        edge = start if a < start else end
        top = min(a + _ZH_WORD_REACH, n)
        b = a + 1
        while b <= top:
            freq = words.get(text[a:b])
            if freq is None:
                break
            if b > edge and freq and not (size > 1 and (b == end if a < start else a == start)):
                return True
            b += 1
    return False


def _inside_word(text: str, start: int, end: int, words: Mapping[str, int]) -> bool:
    """Whether text[start:end] sits inside a longer dictionary word (不 in 不错, 是 in 于是), where
    jieba would not have cut it out as a word of its own."""
    for a in range(max(end - _ZH_WORD_REACH, 0), start + 1):
        for b in range(max(end, a + end - start + 1), min(a + _ZH_WORD_REACH, len(text)) + 1):
            if words.get(text[a:b]):
                return True
    return False


def _zh_scan_back(
    text: str, start: int, window: int, cues: frozenset[str], stops: frozenset[str], words: Mapping[str, int], any_cue: re.Pattern[str]
) -> bool:
    """Character-level _scan_back: the nearest standalone cue or scope breaker within `window`
    characters before `start` decides (the longest one ending at each position: 不是, not 是).
    `any_cue` finds any cue or breaker: without one in reach there is nothing to scan."""
    longest = _ZH_CUE_LEN
    if not any_cue.search(text, max(max(start - window, 0) + 1 - longest, 0), start):
        return False
    for end in range(start, max(start - window, 0), -1):
        for size in range(min(longest, end), 0, -1):
            word = text[end - size : end]
            stop = word in stops
            if (stop or word in cues) and not _inside_word(text, end - size, end, words):
                return not stop
    return False


def _zh_char_hits(
    clause: str, found: list[tuple[int, str]], compiled: _Compiled
) -> tuple[list[_Hit], list[tuple[int, int, int]]] | None:
    """Keyword and exclusion occurrences by characters, or None when a boundary is ambiguous and
    jieba must decide the clause."""
    hits: list[_Hit] = []
    excluded: list[tuple[int, int, int]] = []
    plan, words, joins = compiled.zh_plan, compiled.words, compiled.joins
    for at, longest in found:
        for offset, size, word, matched, labels in plan[longest]:
            start = at + offset
            end = start + size
            if matched:
                if (clause[start - 1 : start + 1] in joins or clause[end - 1 : end + 1] in joins) and _straddled(clause, start, end, words):
                    return None
                for key in matched:
                    hits.append(_Hit(key, start, end, word))
            for label in labels:
                excluded.append((label, start, end))
    return hits, excluded


def _match_zh(
    sentence: str, found: tuple[tuple[int, str], ...], has_latin: bool, compiled: _Compiled, tally: _Tally,
    loud: list[tuple[int, str]] | None = None,
) -> _Counted:
    """The keywords (with their surface) that the Chinese occurrences `found` in one sentence
    ((offset, longest match) pairs) let count, once their context is read; jieba is asked only
    about clauses where a word boundary is ambiguous. Hits that `tally` already holds are not read
    (counting them again changes nothing) but returned apart, as not known: the answer holds for
    any post whose tally holds those too (see _match_zh_post). With `loud` (the sentence's loud
    matches left unread, see _Compiled.zh_loud), given only when the reading is not kept, a long
    clause is read only around those and `found` (_Window)."""
    reading = _Reading(tally)
    cues = compiled.zh_cues
    asked: bool | None = None  # whether the sentence asks something, computed when first needed
    pending = iter(found)
    at, word = next(pending)
    for clause in _ZH_CLAUSE.finditer(sentence):
        c0, c1 = clause.span()
        if c1 <= at:
            continue
        inside: list[tuple[int, str]] = []
        while at < c1:
            inside.append((at - c0, word))
            at, word = next(pending, (len(sentence), ""))
        if not inside:
            continue
        text = clause.group()
        # The clause's hits in groups that never interact, each (the pairs whose being counted
        # already settles all of them, or None; its hits, to be moved by `shift` words).
        groups: Iterable[tuple[frozenset[Any] | None, list[_Hit] | tuple[_Hit, ...], int]]
        window = None
        by_chars = _zh_char_hits(text, inside, compiled)
        if by_chars is None:
            # Long clauses (threads, lists, unpunctuated posts) are read unit by unit, which pays
            # once units repeat, or only around what is to be read; short ones are cheaper to read whole.
            long = len(text) > _UNIT_CLAUSE_CHARS
            unit_at = compiled.sparse(text) if long and loud is not None else None  # type: ignore[misc]
            if unit_at is not None:
                window = _Window(text, unit_at, compiled, tally)
                tokens, offsets = window.tokens, window.offsets
                groups = window.units(_clause_matches(chain(found, loud), c0, c1))  # type: ignore[arg-type]
            else:
                units = compiled.units(text) if long else None
                if units is None:
                    tokens = compiled.segment(text)
                    hits, excluded = _zh_clause_hits(tokens, compiled)
                else:
                    tokens, hits, excluded = _zh_unit_hits(units, compiled, reading)
                offsets = [0, *accumulate(map(len, tokens))]
                groups = [(None, _keep(hits, excluded), 0)]
        else:
            tokens, offsets = [], []
            groups = [(None, _keep(*by_chars), 0)]
        for settles, kept, shift in groups:
            if settles is not None and tally.pairs.issuperset(settles):
                continue  # a unit whose hits an earlier one of the clause counted
            for hit in kept:
                if shift:
                    hit = _Hit(hit.key, hit.start + shift, hit.end + shift, hit.surface)
                if reading.settled(hit):
                    continue
                blocks = compiled.blocks[hit.key.label]
                reading.reads(hit)
                if hit.key.ask or "question" in blocks:
                    if asked is None:
                        latin = has_latin and (not compiled.en_question_latin or _LATIN.search(sentence))
                        asked = _is_question(sentence, _en_stems(_EN_TOKEN.findall(sentence)) if latin else [], compiled)
                    if asked != hit.key.ask:
                        continue
                negated, hedged = "negated" in blocks, "hedged" in blocks
                if (negated or hedged) and tokens:
                    words, start = (tokens, hit.start) if window is None else window.back(hit.start)
                    if (negated and _negated(words, start, cues)) or (hedged and _hedged(words, start, cues)):
                        continue
                elif negated or hedged:
                    if negated and _zh_scan_back(text, hit.start, _ZH_NEGATION_WINDOW, cues.negation, cues.scope_breakers, compiled.words, compiled.zh_negation_cue):
                        continue
                    if hedged and _zh_scan_back(text, hit.start, _ZH_HEDGE_WINDOW, cues.hedge, cues.scope_breakers, compiled.words, compiled.zh_hedge_cue):
                        continue
                if "public" in blocks and _about_public_figure(sentence, cues.public, ""):
                    continue
                if "third_party" in blocks:
                    start, end = (offsets[hit.start], offsets[hit.end]) if tokens else (hit.start, hit.end)
                    if _zh_third_party(sentence, c0 + start, c0 + end, cues.owner):
                        continue
                reading.count(hit)
    return reading.result()


def _zh_scan(norm: str, scans: tuple[re.Pattern[str], ...]) -> list[tuple[int, str]]:
    """(offset, longest keyword or exclusion) pairs in text order, from every bin's scan."""
    found = [(match.start(), match.group()) for scan in scans for match in scan.finditer(norm)]
    found.sort()
    return found


def _match_zh_post(norm: str, zh_found: list[tuple[int, str]], has_latin: bool, compiled: _Compiled, tally: _Tally) -> None:
    """Tally the Chinese keyword occurrences `zh_found` of a whole post, sentence by sentence; matches
    needing no context are counted at once, and repeats of what is already counted are skipped."""
    if compiled.segment is None or compiled.words_at != len(_JIEBA_WORDS):
        _segmenter(compiled)
    if _UNREAD and not _UNREAD.keys().isdisjoint(norm):
        read_dictionary(norm)
    zh_parts, zh_fast, joins, sentences, loud = compiled.zh_parts, compiled.zh_fast, compiled.joins, compiled.zh_sentences, compiled.zh_loud
    done: dict[str, bool] = {}  # words counted at once, and whether they are loud
    # Sentence boundaries once, then only the sentences holding a match are cut out.
    bounds = [match.end() for match in _SENTENCE_ENDS.finditer(norm)]
    starts = list(map(itemgetter(0), zh_found))
    next_zh, total, size = 0, len(zh_found), len(norm)
    while next_zh < total:
        k = bisect_right(bounds, starts[next_zh])
        offset, at = bounds[k - 1] if k else 0, bounds[k] if k < len(bounds) else size
        sentence = norm[offset:at]
        found: list[tuple[int, str]] = []
        # The loud matches left unread (see _Compiled.zh_loud), for a sentence whose reading is not kept.
        unread: list[tuple[int, str]] | None = [] if loud and at - offset > _SENTENCE_CACHE_CHARS else None
        last = bisect_left(starts, at, next_zh)
        for start, word in zh_found[next_zh:last]:
            was = done.get(word)
            if was is not None:
                if was and unread is not None:
                    unread.append((start - offset, word))
                continue
            parts = zh_fast.get(word)
            if parts is not None:
                end = start + len(word)
                if norm[max(start - 1, 0) : start + 1] not in joins and norm[end - 1 : end + 1] not in joins:
                    for key, surface in parts:
                        tally.add(key, surface)
                    was = done[word] = loud.get(word, True)
                    if was and unread is not None:
                        unread.append((start - offset, word))
                    continue
            if not tally.has_all(zh_parts[word]):
                found.append((start - offset, word))
            elif unread is not None and loud[word]:
                unread.append((start - offset, word))
        next_zh = last
        if found:
            # The matches left to read are part of the key: which ones are depends on the post.
            key = (sentence, tuple(found), has_latin)
            if len(sentence) > _SENTENCE_CACHE_CHARS:
                _match_zh(sentence, key[1], has_latin, compiled, tally, unread)
            else:
                _recall(sentences, key, tally, lambda: _match_zh(sentence, key[1], has_latin, compiled, tally))


def tag_post(title: str, text: str, *, taxonomy: Taxonomy | None = None) -> Tags:
    """Tag one post (title and plain text) with topics, signals, language and evidence."""
    compiled = (taxonomy or _default_taxonomy())._compiled
    raw = f"{title}\n{text}" if title else text
    norm = _normalise_post(raw)
    tally = _Tally()
    has_latin = bool(_LATIN.search(norm))
    zh_found = _zh_scan(norm, compiled.zh_scans) if _CJK.search(norm) else []
    if zh_found:
        _match_zh_post(norm, zh_found, has_latin, compiled, tally)
    if has_latin:
        _match_en(norm, compiled, tally)
    if compiled.emoji_firsts.search(norm):
        present = set(compiled.emoji_firsts.findall(norm))
        for symbol, key in compiled.emoji:
            if symbol[0] in present and symbol in norm:
                tally.add(key, symbol)

    fired = {
        label
        for label, weights in tally.weights.items()
        if sum(weights.values()) >= compiled.thresholds[label] - 1e-9
    }
    evidence = {label: tuple(tally.evidence[label]) for label in fired}
    # What any reading fired suppresses (check_in: congratulate), even when the scorer drops it.
    suppressed = {other for label in fired for other in compiled.suppress[label]}
    if compiled.scorer is not None:
        learned, dropped, likely = compiled.scorer.decide(norm, fired, tally.read - tally.weights.keys())
        fired.difference_update(dropped)
        fired.update(learned)
        evidence.update(learned)
        suppressed.update(other for label in likely for other in compiled.suppress[label])
    fired.difference_update(suppressed)
    labels = compiled.labels
    ordered = sorted(fired)
    return Tags(
        topics=tuple(labels[i].id for i in ordered if labels[i].kind == "topic"),
        signals=tuple(labels[i].id for i in ordered if labels[i].kind == "signal"),
        lang="en" if raw.isascii() else detect_lang(raw),  # ASCII holds no Chinese character
        evidence={labels[i].id: evidence[i] for i in ordered},
    )
