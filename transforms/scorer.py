"""A learned multi-label linear scorer that works beside the rule tagger.

The rules (transforms/tagging.py) are precise but miss posts whose words they were never given.
This scorer reads the same normalised text and adds a label when a logistic model trained on the
labelled sets is confident about it:

* Features are presence-only, from the first MAX_CHARS characters: English stems and stem bigrams
  (the rules' tokeniser and stemmer), Chinese character unigrams and bigrams over CJK runs
  (traditional text is already simplified by the normalisation; trigrams did not help in
  cross-validation), emoji and hashtags.
* The weights ship as a small data file (scorer.json.gz) written by scripts/train_scorer.py; no
  model is downloaded and nothing here needs numpy. Scoring one post is one weight lookup per
  feature and one sum of the found (packed) weight vectors, both in C.
* `Bound.decide` combines the model with the rules, per label, with two thresholds chosen by
  cross-validation: the model *adds* a label the rules missed when its probability reaches the
  label's `add` threshold, and for a signal only when the rules' context readers did not block it
  in this post (negation, hedging, questions, someone else's milestone); the model *drops* a label
  the rules fired only when its probability is below the label's (low) `keep` threshold, i.e. when
  it is all but sure the keyword misled. The tagger applies `suppresses` afterwards over everything
  the rules or the model fired, and over what the model finds likely even where it may not add it,
  so a post that either reads as sensitive is never congratulated.
* Weights are fixed-point integers (thousandths) summed exactly, so a post's score never depends
  on the order its features are visited in.

Labels a user adds to the taxonomy are not in the model and keep working by rules alone.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from math import exp, log
from operator import add
from pathlib import Path
from typing import Any, NamedTuple

# The rules' own tokeniser and cached stemmer, so both read a post the same way.
from transforms.tagging import _EN_POST_TOKEN as EN_POST_TOKEN
from transforms.tagging import _LATIN
from transforms.tagging import _en_stems as en_stems
from transforms.tagging import _normalise
from transforms.gazetteer import CLASS_MARK, load_gazetteer

__all__ = ["WEIGHTS", "Bound", "LazyBound", "Scorer", "bind", "features", "load_scorer", "read_weights"]

WEIGHTS = Path(__file__).with_name("scorer.json.gz")
FORMAT = 2
# Weights, bias and thresholds are compared as integers in thousandths of a log-odds unit.
SCALE = 1000
# Marks evidence that comes from the model rather than from a taxonomy keyword.
LEARNED_MARK = "~"
# How many of the strongest features a learned label shows as evidence, and the weight one of
# them must reach: a label that only a pile of weak features speaks for is not added.
EVIDENCE_SIZE = 3
MIN_EVIDENCE = 0.5
# A label the model finds at least this likely suppresses what it suppresses (check_in:
# congratulate) even below its add threshold: a possibly sensitive post is not congratulated.
SUPPRESS_AT = 0.1

# The model reads a post's first characters only: the posts it learnt from are this short, a
# presence sum over a long post would drift, and the cost per post stays bounded (the rules read
# all of it).
MAX_CHARS = 160
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_HASHTAG = re.compile(r"#([^\s#]+)")
_EMOJI = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")

Feature = str | tuple[str, str]
# Function words skipped for the second set of English bigrams, so "watched the final" and "watched
# a final" also give ("watch", "final"), as stems.
_FUNCTION_STEMS = frozenset(en_stems(
    "a an the my our your his her their its this that these those to of in on at for from by with "
    "and or is am are was were be been i me we us you he she it they them so just very really".split()))
# Per-language bias features, so the language's base rate is not learnt by "the" or "的".
_ENGLISH, _CHINESE = "@en", "@zh"


def features(norm: str) -> set[Feature]:
    """The presence features of a normalised post (tagging's _normalise_post output).

    English stems are plain strings and stem bigrams are (stem, stem) pairs; Chinese n-grams are
    strings of CJK characters (runs are joined by a space, so n-grams holding one are never in the
    vocabulary); emoji are single symbols, hashtags start with '#', and '@en' / '@zh' mark
    that the post has English tokens / Chinese characters. None of these can collide."""
    found: set[Feature] = set()
    norm = norm[:MAX_CHARS]
    gazetteer = load_gazetteer()
    tokens = EN_POST_TOKEN.findall(norm)
    if tokens:
        stems = en_stems(tokens)
        if _LATIN.search(norm):
            found.add(_ENGLISH)
        found.update(stems)
        found.update(zip(stems, stems[1:]))
        found.update(gazetteer.english_classes(found, stems))
        content = [stem for stem in stems if stem not in _FUNCTION_STEMS]
        found.update(zip(content, content[1:]))  # across function words: "watched the final"
    runs = _CJK_RUN.findall(norm)
    if runs:
        text = " ".join(runs)
        found.add(_CHINESE)
        found.update(text)
        bigrams = list(map(add, text, text[1:]))
        found.update(bigrams)
        found.update(gazetteer.chinese_classes(text, bigrams, norm))
    if "#" in norm:
        found.update("#" + tag for tag in _HASHTAG.findall(norm))
    found.update(_EMOJI.findall(norm))
    return found


def _key(text: str) -> Feature:
    """A feature as stored in the weights file: English bigrams are 'stem stem'."""
    first, space, second = text.partition(" ")
    return (first, second) if space else text


def feature_name(feature: Feature) -> str:
    """The file form of a feature (inverse of _key)."""
    return " ".join(feature) if isinstance(feature, tuple) else feature


def _logit(probability: float) -> float:
    """Log-odds of a probability; thresholds are compared in logit space, so no exp per post."""
    return log(probability / (1.0 - probability))


class Scorer(NamedTuple):
    """Trained weights: per feature a dense vector over `labels` and a bias per label, both in
    thousandths (SCALE); per label the probability at or above which the model adds it (None:
    never) and the one below which it drops a label the rules fired (None: never)."""

    labels: tuple[str, ...]
    bias: tuple[int, ...]
    # Each feature's vector packed into one integer (see _pack), so a post's scores are one C-level
    # sum of big integers and one unpacking, instead of a column sum over every matched vector.
    packed: Mapping[Feature, int]
    packed_bias: int
    vocabulary: frozenset[Feature]
    explainers: frozenset[Feature]  # the vocabulary's features that may be shown as evidence
    thresholds: tuple[float | None, ...]
    fingerprint: str
    keep: tuple[float | None, ...] = ()

    @property
    def weights(self) -> Mapping[Feature, tuple[int, ...]]:
        """Per feature its weight vector, unpacked on demand (evidence and tests read a few)."""
        return _Unpacked(self.packed, len(self.labels))

    def weight(self, feature: Feature, out: int) -> int:
        """One feature's weight for model output `out` (evidence reads a few per post): that slot
        alone, not the whole vector unpacked."""
        return _component(self.packed[feature], out)

    def logits(self, found: Iterable[Feature]) -> list[int]:
        """Per-label log-odds (in thousandths) from a post's features, summed exactly (integers), so
        the order the features come in never matters; features outside the vocabulary weigh
        nothing. One lookup per feature: intersecting with the vocabulary first cost a second,
        and on a long post's tagging the table is cold, so each costs a cache miss."""
        return _unpack(sum(filter(None, map(self.packed.get, found)), self.packed_bias), len(self.labels))

    def probabilities(self, found: set[Feature]) -> dict[str, float]:
        """Per-label probabilities for a post's features (used by the trainer and the tests)."""
        return {label: 1.0 / (1.0 + exp(-z / SCALE)) for label, z in zip(self.labels, self.logits(found & self.vocabulary))}


# Bits per label in a packed vector: any sum of weights stays far inside +-2**(_SLOT - 1).
_SLOT = 48
_SLOT_MASK = (1 << _SLOT) - 1
_SLOT_HALF = 1 << (_SLOT - 1)


def _pack(vector: Sequence[int]) -> int:
    """One integer holding a vector of signed integers, label i in bits [i * _SLOT, (i + 1) * _SLOT):
    the packed sum of vectors is the packed vector of their sums (plain integer addition), as long
    as no component's sum leaves the slot's range."""
    return sum(value << (_SLOT * i) for i, value in enumerate(vector))


def _unpack(total: int, size: int) -> list[int]:
    """The signed components of a packed sum, lowest slot first (a negative slot borrows one from
    the next, which is given back here)."""
    out = []
    for _ in range(size):
        value = total & _SLOT_MASK
        if value >= _SLOT_HALF:
            value -= 1 << _SLOT
        out.append(value)
        total = (total - value) >> _SLOT
    return out


def _component(total: int, i: int) -> int:
    """Component i of a packed sum, as _unpack(total, ...)[i]: the slots below sum to less than half
    of slot i's unit in size, so adding that half before the shift absorbs their borrows."""
    shift = _SLOT * i
    half = 1 << (shift - 1) if shift else 0
    value = ((total + half) >> shift) & _SLOT_MASK
    return value - (1 << _SLOT) if value >= _SLOT_HALF else value


def scorer_from_dict(data: Mapping[str, Any], fingerprint: str = "") -> Scorer:
    """Build a Scorer from the weights file's JSON form."""
    labels = tuple(data["labels"])
    shifts = [_SLOT * i for i in range(len(labels))]
    packed: dict[Feature, int] = {}
    for name, flat in data["weights"].items():  # flat: label index, weight, label index, weight ...
        pairs = iter(flat)
        packed[_key(name)] = sum(round(weight * SCALE) << shifts[at] for at, weight in zip(pairs, pairs))
    thresholds = tuple(data["thresholds"].get(label) for label in labels)
    keep = tuple(data.get("keep", {}).get(label) for label in labels)
    explainers = frozenset(filter(_explains, packed))
    bias = tuple(round(b * SCALE) for b in data["bias"])
    return Scorer(labels, bias, packed, _pack(bias), frozenset(packed), explainers, thresholds, fingerprint, keep)


class _Unpacked(Mapping[Feature, tuple[int, ...]]):
    """Per feature its weight vector, unpacked on demand from the packed integers (evidence and
    tests read a few; scoring never does)."""

    def __init__(self, packed: Mapping[Feature, int], size: int) -> None:
        self._packed, self._size = packed, size

    def __getitem__(self, feature: Feature) -> tuple[int, ...]:
        return tuple(_unpack(self._packed[feature], self._size))

    def __iter__(self) -> Iterator[Feature]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)


def read_weights(path: Path = WEIGHTS) -> dict[str, Any]:
    """The weights file's JSON form."""
    return json.loads(gzip.decompress(path.read_bytes()))


def weights_fingerprint(path: Path = WEIGHTS) -> str:
    """Short hash of a weights file's content (part of the taxonomy fingerprint); the trainer
    writes the same bytes for the same data."""
    return _digest(gzip.decompress(path.read_bytes()))


def _digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()[:16]


@cache
def weights_fingerprint_cached(path: Path) -> str:
    return weights_fingerprint(path)


@cache
def load_scorer(path: Path = WEIGHTS) -> Scorer | None:
    """The shipped scorer, read once per process; None when no weights file is there."""
    if not path.exists():
        return None
    from transforms import zh_cache

    # Keyed by the file as stored: its fingerprint (of the JSON inside) would cost a decompression.
    raw = path.read_bytes()
    key = zh_cache.cache_key("scorer", FORMAT, hashlib.sha256(raw).hexdigest())
    scorer = zh_cache.load(key, kind="scorer")
    if not isinstance(scorer, Scorer):
        blob = gzip.decompress(raw)
        scorer = scorer_from_dict(json.loads(blob), _digest(blob))
        zh_cache.save(key, scorer, kind="scorer")
    return scorer


class Bound(NamedTuple):
    """A scorer tied to one taxonomy: which model outputs feed which taxonomy labels."""

    scorer: Scorer
    # Per usable label: model output index, taxonomy label index, the add and keep thresholds in
    # scaled log-odds (keep: None when the model never drops it), whether it is a signal, the
    # label's taxonomy exclusions as one pattern (None without any), and the scaled log-odds from
    # which it counts as likely (the lower of its add threshold and SUPPRESS_AT).
    plan: tuple[tuple[int, int, float, float | None, bool, re.Pattern[str] | None, float], ...]

    @property
    def fingerprint(self) -> str:
        return self.scorer.fingerprint

    def decide(self, norm: str, fired: set[int], blocked: set[int]) -> tuple[dict[int, tuple[str, ...]], set[int], set[int]]:
        """What the model changes in what the rules `fired` (taxonomy indices): the labels it adds,
        each with its evidence; the fired labels it drops; and every label whose probability
        reaches its add threshold or SUPPRESS_AT, added or not (the tagger lets those suppress too:
        a post the model finds possibly sensitive is never congratulated). A signal the rules' context readers
        blocked in this post is never added, nor a label whose taxonomy exclusions appear in it
        ("累成狗" is not about pets), nor one that no strong content word speaks for."""
        scorer = self.scorer
        found = features(norm)
        logits = scorer.logits(found)
        added: dict[int, tuple[str, ...]] = {}
        dropped: set[int] = set()
        likely: set[int] = set()
        for out, at, threshold, keep, signal, excluded, likely_at in self.plan:
            if logits[out] >= likely_at:
                likely.add(at)
            if at in fired:
                if keep is not None and logits[out] < keep:
                    dropped.add(at)
                continue
            if logits[out] < threshold or (signal and at in blocked):
                continue
            if excluded is not None and excluded.found(norm):
                continue
            reasons = evidence(scorer, out, found & scorer.explainers, norm)  # explainers: in the vocabulary
            if reasons:
                added[at] = reasons
        return added, dropped, likely


class LazyBound:
    """bind(load_scorer(path), labels) made on first use, so commands and runs that tag nothing (a
    warm re-check, the digest) never pay for reading the weights (about 0.3 s); its fingerprint
    is the weights file's hash, read without building the scorer."""

    def __init__(self, labels: Sequence[Any], path: Path = WEIGHTS) -> None:
        self._labels, self._path = tuple(labels), path
        self._bound: Bound | None = None
        self._loaded = False

    @property
    def fingerprint(self) -> str:
        return weights_fingerprint_cached(self._path)

    @property
    def bound(self) -> Bound | None:
        if not self._loaded:
            scorer = load_scorer(self._path)
            self._bound = bind(scorer, self._labels) if scorer is not None else None
            self._loaded = True
        return self._bound

    @property
    def scorer(self) -> Scorer | None:
        bound = self.bound
        return bound.scorer if bound is not None else None

    def decide(self, norm: str, fired: set[int], blocked: set[int]) -> tuple[dict[int, tuple[str, ...]], set[int], set[int]]:
        bound = self.bound
        return bound.decide(norm, fired, blocked) if bound is not None else ({}, set(), set())


def bind(scorer: Scorer, labels: Sequence[Any]) -> Bound | None:
    """Match the model's labels to a taxonomy's (same id and kind); labels the model does not know
    are left to the rules. None when nothing matches."""
    index = {label.id: i for i, label in enumerate(labels)}
    plan = []
    keeps = scorer.keep or (None,) * len(scorer.labels)
    for out, (name, threshold, keep) in enumerate(zip(scorer.labels, scorer.thresholds, keeps)):
        kind, _, label_id = name.partition(":")
        at = index.get(label_id)
        if (threshold is None and not keep) or at is None or labels[at].kind != kind:
            continue
        add_at = _logit(threshold) * SCALE if threshold is not None else float("inf")
        likely_at = min(add_at, _logit(SUPPRESS_AT) * SCALE) if threshold is not None else add_at
        plan.append((out, at, add_at, _logit(keep) * SCALE if keep else None, kind == "signal", _exclusions(labels[at]), likely_at))
    return Bound(scorer, tuple(plan)) if plan else None


class _Exclusions(NamedTuple):
    """A label's exclusion phrases: `found` is the pattern, and `words` its plain phrases, which
    every match contains. The pattern's leading lookbehind keeps Python's regex engine from
    skipping ahead, so searching a long post costs 100-400 us; a substring test first costs a few."""
    words: tuple[str, ...]
    pattern: re.Pattern[str]

    def found(self, norm: str) -> bool:
        return any(w in norm for w in self.words) and self.pattern.search(norm) is not None


def _exclusions(label: Any) -> _Exclusions | None:
    """One pattern for a label's exclude_en phrases (from a word start, any ending: "hot dog"
    also finds "hot dogs") and exclude_zh phrases, normalised as posts are."""
    words = [_normalise(word).strip() for word in (*label.exclude_en, *label.exclude_zh)]
    english = [r"(?<![a-z0-9])" + re.escape(w) for w in words[:len(label.exclude_en)]]
    chinese = [re.escape(w) for w in words[len(label.exclude_en):]]
    return _Exclusions(tuple(words), re.compile("|".join(english + chinese))) if words else None


# Words too common to explain a label: they may carry weight, but are never shown as evidence.
_PLAIN = frozenset(
    "a an the i me my we our us you your he she it its they them their is am are was were be been "
    "to of in on at for from by with and or but so as if not no do did does have has had this that "
    "just one two all get got go will can up out about what when who how there here".split()
)


def _explains(feature: Feature) -> bool:
    """Whether a feature reads as a reason: a content word or word pair, a Chinese word-sized
    n-gram, an emoji or a hashtag (not "the", ",", "i", or a lone character)."""
    if feature in (_ENGLISH, _CHINESE):
        return False
    if isinstance(feature, str) and feature.startswith(CLASS_MARK):
        return True  # shown as the post's own words for it (_surfaces)
    words = feature if isinstance(feature, tuple) else (feature,)
    if not all(word.isalnum() for word in words):
        return feature[0] == "#" or bool(_EMOJI.match(feature)) if isinstance(feature, str) else False
    if _CJK_RUN.match(words[0]):
        return len(words[0]) > 1
    return not all(word in _PLAIN or len(word) < 3 for word in words)


def evidence(scorer: Scorer, out: int, candidates: set[Feature], norm: str) -> tuple[str, ...]:
    """The few features among `candidates` that pushed label `out` up most (each weighing at
    least MIN_EVIDENCE), as written in the post, marked '~'."""
    least = MIN_EVIDENCE * SCALE
    ranked = sorted((-w, feature_name(f)) for f in candidates if (w := scorer.weight(f, out)) >= least)
    names = [name for _, name in ranked[:EVIDENCE_SIZE]]
    return tuple(LEARNED_MARK + surface for surface in _surfaces(names, norm[:MAX_CHARS]))


def _surfaces(names: list[str], norm: str) -> list[str]:
    """How features appear in the post: an English stem (or stem pair) is shown as the first word
    (or word pair) with that stem; everything else is already what the post says."""
    stems: list[str] | None = None
    shown = []
    for name in names:
        if name.startswith(CLASS_MARK):
            name = load_gazetteer().mention(norm, name) or name
        elif "a" <= name[0] <= "z" or name[0].isdigit():
            if stems is None:
                tokens = EN_POST_TOKEN.findall(norm)
                stems = en_stems(tokens)
            wanted = name.split(" ")
            size = len(wanted)
            name = next((" ".join(tokens[i : i + size]) for i in range(len(stems) - size + 1) if stems[i : i + size] == wanted), name)
        shown.append(name)
    return shown
