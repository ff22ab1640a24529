"""Train the learned scorer (transforms/scorer.py) on the labelled sets and write its weights.

Run: PYTHONPATH=. .venv/bin/python scripts/train_scorer.py [--out PATH] [--folds K]

Deterministic and pure Python: one-vs-rest logistic regression with L2, trained by AdaGrad over a
fixed-seed shuffle, on presence features with a minimum document count. Per-label thresholds for
combining with the rules are chosen by K-fold cross-validation (out-of-fold probabilities), scored
on the posts the rules were never tuned on, so the rules' own overfitting does not hide what the
model adds. final_blind_posts.jsonl is never read here. The weights are pruned, rounded and written
gzipped with the training files' fingerprint, which tests/test_scorer.py checks against the fixtures.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from math import exp, sqrt
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from transforms.scorer import (  # noqa: E402
    FORMAT, SCALE, SUPPRESS_AT, WEIGHTS, Feature, Scorer, _exclusions, evidence, feature_name, features, scorer_from_dict, weights_fingerprint,
)
from transforms.gazetteer import CLASS_MARK, load_gazetteer  # noqa: E402
from transforms.tagging import _normalise_post, load_taxonomy, tag_post  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
# Measured only, never trained or tuned on.
SEALED = ("final_blind_posts.jsonl", "final_blind_2_posts.jsonl")
# Sets written for the scorer: the rules were never tuned on them, so thresholds are chosen there.
UNTUNED_PREFIX = "train_"


@dataclass(frozen=True)
class Config:
    """Everything that decides the weights besides the data."""

    seed: int = 20261201
    epochs: int = 10
    learning_rate: float = 0.4
    l2: float = 0.03
    l2_topics: float = 0.05  # topics: stronger L2 than signals (CV on train_*: English topics 0.780 -> 0.784)
    l2_classes: float = 0.1  # times the label's L2 for the gazetteer's class features ("=place", transforms/gazetteer.py)
    class_signals: bool = False  # whether signals learn class-feature weights too (topics always do)
    skip: float = 0.01  # a post whose error for a label is below this teaches that label nothing
    min_count: int = 2
    prune: float = 0.05  # weights smaller than this in magnitude are dropped
    digits: int = 3
    folds: int = 5
    topic_grid: tuple[float, ...] = tuple(round(0.2 + 0.05 * i, 2) for i in range(16))  # 0.20 .. 0.95
    signal_grid: tuple[float, ...] = tuple(round(0.35 + 0.05 * i, 2) for i in range(13))  # 0.35 .. 0.95
    # Below this probability the model drops a label the rules fired (0: never drops it).
    keep_grid: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1)
    signal_keep_grid: tuple[float, ...] = (0.0, 0.02)  # a signal the context readers let through is dropped only if all but impossible
    min_gain: float = 0.005  # a label's threshold is kept only if it raises the label's CV F1 this much


def training_files(folder: Path = FIXTURES) -> list[Path]:
    """Every labelled set except the sealed ones, in name order."""
    return sorted(path for path in folder.glob("*posts*.jsonl") if path.name not in SEALED)


def training_fingerprint(paths: Iterable[Path]) -> dict[str, Any]:
    """Per file its line count and hash, plus one hash over all of them."""
    files = {}
    for path in sorted(paths, key=lambda p: p.name):
        data = path.read_bytes()
        files[path.name] = {"lines": sum(1 for line in data.splitlines() if line.strip()), "sha256": hashlib.sha256(data).hexdigest()[:16]}
    overall = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    return {"files": files, "fingerprint": overall}


def load_posts(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Labelled posts, each tagged with the file it came from."""
    posts = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                posts.append({**json.loads(line), "set": path.name})
    return posts


def post_norm(post: dict[str, Any]) -> str:
    """A labelled post's text as tag_post normalises it."""
    return _normalise_post(f"{post['title']}\n{post['text']}" if post.get("title") else post["text"])


def post_features(post: dict[str, Any]) -> set[Feature]:
    """A labelled post's features, from the text tag_post would read."""
    return features(post_norm(post))


def model_labels() -> tuple[str, ...]:
    """The default taxonomy's labels as the model names them (topic:travel, signal:check_in)."""
    taxonomy = load_taxonomy()
    return tuple(f"topic:{t}" for t in taxonomy.topics) + tuple(f"signal:{s}" for s in taxonomy.signals)


def targets(post: dict[str, Any], labels: Sequence[str]) -> tuple[int, ...]:
    """0/1 per model label."""
    gold = {f"topic:{t}" for t in post["topics"]} | {f"signal:{s}" for s in post["signals"]}
    return tuple(int(label in gold) for label in labels)


def vocabulary(rows: Sequence[set[Feature]], min_count: int) -> list[Feature]:
    """Features seen in at least min_count posts (n-grams across two CJK runs never), sorted."""
    counts = Counter(f for row in rows for f in row)
    kept = [f for f, n in counts.items() if n >= min_count and not (isinstance(f, str) and " " in f)]
    return sorted(kept, key=feature_name)


def train(rows: Sequence[set[Feature]], ys: Sequence[tuple[int, ...]], labels: Sequence[str], config: Config) -> tuple[list[float], dict[Feature, list[float]]]:
    """One-vs-rest logistic regression with L2 (config.l2_topics for topics, config.l2 for signals)
    by AdaGrad; returns (bias, weights per feature)."""
    size = len(labels)
    l2s = [config.l2_topics if label.startswith("topic:") else config.l2 for label in labels]
    vocab = vocabulary(rows, config.min_count)
    index = {f: i for i, f in enumerate(vocab)}
    xs = [sorted(index[f] for f in row if f in index) for row in rows]
    # Per label, each feature's L2: class features are few and general, so they may be held less.
    classes = [isinstance(f, str) and f.startswith(CLASS_MARK) for f in vocab]
    holds = [[l2 * config.l2_classes if is_class else l2 for is_class in classes] for l2 in l2s]
    # Class features name what a post is about (topics); signals learn none unless config.class_signals.
    learns = [label.startswith("topic:") or config.class_signals for label in labels]
    plain = [[i for i in x if not classes[i]] for x in xs]
    weights = [[0.0] * size for _ in vocab]
    squares = [[1e-8] * size for _ in vocab]
    bias, bias_squares = [0.0] * size, [1e-8] * size
    rate, skip = config.learning_rate, config.skip
    order = list(range(len(rows)))
    rng = random.Random(config.seed)
    for _ in range(config.epochs):
        rng.shuffle(order)
        for n in order:
            x, y, x_plain = xs[n], ys[n], plain[n]
            z = list(map(sum, zip(bias, *(weights[i] for i in x)))) if x else list(bias)
            for k in range(size):
                g = 1.0 / (1.0 + exp(-max(min(z[k], 35.0), -35.0))) - y[k]
                if -skip < g < skip:  # nothing left to learn from this post for this label
                    continue
                bias_squares[k] += g * g
                bias[k] -= rate * g / sqrt(bias_squares[k])
                hold = holds[k]
                for i in x if learns[k] else x_plain:
                    w, s = weights[i], squares[i]
                    step = g + hold[i] * w[k]
                    s[k] += step * step
                    w[k] -= rate * step / sqrt(s[k])
    return bias, dict(zip(vocab, weights))


def prune(bias: list[float], weights: dict[Feature, list[float]], config: Config) -> dict[str, Any]:
    """The weights file's label-independent part: rounded bias, and per feature only the weights
    whose magnitude reaches config.prune, as a flat [label, weight, ...] list."""
    flat: dict[str, list[float | int]] = {}
    for feature, vector in weights.items():
        kept = [(k, round(w, config.digits)) for k, w in enumerate(vector) if abs(w) >= config.prune]
        if kept:
            flat[feature_name(feature)] = [value for pair in kept for value in pair]
    return {"bias": [round(b, config.digits) for b in bias], "weights": flat}


def fit(posts: Sequence[dict[str, Any]], rows: Sequence[set[Feature]], labels: Sequence[str], config: Config) -> Scorer:
    """Train on `posts` and return the pruned scorer (no thresholds yet)."""
    ys = [targets(post, labels) for post in posts]
    bias, weights = train(rows, ys, labels, config)
    data = {"labels": list(labels), "thresholds": {}, **prune(bias, weights, config)}
    return scorer_from_dict(data)


def folds_of(posts: Sequence[dict[str, Any]], k: int, seed: int) -> list[int]:
    """A fold number per post: a fixed-seed shuffle dealt round-robin, so folds are balanced."""
    order = list(range(len(posts)))
    random.Random(seed).shuffle(order)
    fold = [0] * len(posts)
    for rank, n in enumerate(order):
        fold[n] = rank % k
    return fold


def out_of_fold(posts: Sequence[dict[str, Any]], rows: Sequence[set[Feature]], labels: Sequence[str],
                config: Config) -> tuple[list[dict[str, float]], list[set[str]], list[Scorer]]:
    """Each post's probabilities from a model trained on the other folds, the labels that model
    could not add to it whatever the threshold (see unsupported), and that model (for --errors)."""
    fold = folds_of(posts, config.folds, config.seed)
    probs: list[dict[str, float]] = [{} for _ in posts]
    vetoed: list[set[str]] = [set() for _ in posts]
    models: list[Scorer] = [None] * len(posts)  # type: ignore[list-item]
    lowest = min(config.topic_grid + config.signal_grid)
    exclusions = _label_exclusions()
    for k in range(config.folds):
        train_at = [n for n in range(len(posts)) if fold[n] != k]
        scorer = fit([posts[n] for n in train_at], [rows[n] for n in train_at], labels, config)
        for n in range(len(posts)):
            if fold[n] == k:
                probs[n] = scorer.probabilities(rows[n])
                vetoed[n] = unsupported(scorer, rows[n], post_norm(posts[n]), {l for l, p in probs[n].items() if p >= lowest}, exclusions)
                models[n] = scorer
    return probs, vetoed, models


def _label_exclusions() -> dict[str, Any]:
    """Each default label's exclusion pattern, by model label name."""
    return {f"{label.kind}:{label.id}": _exclusions(label) for label in load_taxonomy().labels}


def unsupported(scorer: Scorer, found: set[Feature], norm: str, candidates: Iterable[str], exclusions: dict[str, Any]) -> set[str]:
    """Among `candidates`, the labels Bound.add would refuse in this post: one of its taxonomy
    exclusions is there, or no strong content feature speaks for it."""
    matched = found & scorer.vocabulary
    refused = set()
    for label in candidates:
        excluded = exclusions.get(label)
        if (excluded is not None and excluded.found(norm)) or not evidence(scorer, scorer.labels.index(label), matched & scorer.explainers, norm):
            refused.add(label)
    return refused


class _Recorder:
    """Stands in for a bound scorer to see what the rules decided: fired and blocked labels."""

    def __init__(self) -> None:
        self.seen: tuple[set[int], set[int]] = (set(), set())

    def decide(self, norm: str, fired: set[int], blocked: set[int]) -> tuple[dict[int, tuple[str, ...]], set[int], set[int]]:
        self.seen = (set(fired), set(blocked))
        return {}, set(), set()


def rule_outcomes(posts: Sequence[dict[str, Any]]) -> list[tuple[set[str], set[str]]]:
    """Per post, the labels the rules fire (before suppression) and the labels their context
    readers blocked, both as model label names."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules-only.toml"
        path.write_text("[scorer]\nenabled = false\n", encoding="utf-8")
        taxonomy = load_taxonomy(path)
    recorder = _Recorder()
    taxonomy._compiled.scorer = recorder
    names = [f"{label.kind}:{label.id}" for label in taxonomy.labels]
    outcomes = []
    for post in posts:
        tag_post(post.get("title", ""), post["text"], taxonomy=taxonomy)
        fired, blocked = recorder.seen
        outcomes.append(({names[i] for i in fired}, {names[i] for i in blocked}))
    return outcomes


def combined(label: str, prob: float, threshold: float | None, fired: set[str], vetoed: set[str], keep: float = 0.0) -> bool:
    """Whether the combination applies `label` (before check_in suppresses congratulate): the rules
    fired it and the model does not all but rule it out (probability below `keep`), or the model
    is confident and nothing vetoes it (see vetoes)."""
    if label in fired:
        return prob >= keep
    return threshold is not None and prob >= threshold and label not in vetoed


def vetoes(blocked: set[str], refused: set[str]) -> set[str]:
    """Labels the model may not add to a post: signals the rules' context readers blocked, and
    labels it could not support there (unsupported)."""
    return {label for label in blocked if label.startswith("signal:")} | refused


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def choose_thresholds(posts: Sequence[dict[str, Any]], probs: Sequence[dict[str, float]], outcomes: Sequence[tuple[set[str], set[str]]],
                      labels: Sequence[str], config: Config) -> tuple[dict[str, float | None], dict[str, float], dict[str, Any]]:
    """Per label, the add threshold and keep threshold whose combination with the rules scores the
    best F1 on these posts (ties: the smaller change to the rules), or none at all when nothing
    beats the rules alone by min_gain. `outcomes` holds per post the labels the rules fired and
    those the model may not add. Returns (add thresholds, keep thresholds, report)."""
    thresholds: dict[str, float | None] = {}
    keeps: dict[str, float] = {}
    report: dict[str, Any] = {}
    for label, gold in zip(labels, zip(*(targets(post, labels) for post in posts))):
        def f1_at(threshold: float | None, keep: float) -> float:
            counts = Counter()
            for y, p, (fired, vetoed) in zip(gold, probs, outcomes):
                got = combined(label, p[label], threshold, fired, vetoed, keep)
                counts["tp" if got and y else "fp" if got else "fn" if y else "tn"] += 1
            return _f1(counts["tp"], counts["fp"], counts["fn"])

        rules = f1_at(None, 0.0)
        grid = config.signal_grid if label.startswith("signal:") else config.topic_grid
        best, best_keep, best_f1 = None, 0.0, rules + config.min_gain
        for keep in config.signal_keep_grid if label.startswith("signal:") else config.keep_grid:
            for threshold in (None, *sorted(grid, reverse=True)):
                if threshold is None and not keep:
                    continue
                score = f1_at(threshold, keep)
                if score > best_f1 + 1e-12:
                    best, best_keep, best_f1 = threshold, keep, score
        if best is not None or best_keep:
            thresholds[label] = best
            if best_keep:
                keeps[label] = best_keep
        else:
            thresholds[label] = None
        report[label] = {"rules_f1": round(rules, 3), "combined_f1": round(max(best_f1, rules), 3), "threshold": best, "keep": best_keep}
    return thresholds, keeps, report


def suppressed(got: set[str], likely: AbstractSet[str] = frozenset()) -> set[str]:
    """`got` after check_in's suppression of congratulate (also when check_in is only likely)."""
    return got - {"signal:congratulate"} if "signal:check_in" in got | likely else got


def applied_labels(p: Mapping[str, float], fired: set[str], vetoed: set[str], labels: Sequence[str],
                   thresholds: Mapping[str, float | None], keeps: Mapping[str, float]) -> set[str]:
    """The labels the rules with the model give a post at these thresholds, as tag_post would
    (check_in, applied or only likely, suppressing congratulate)."""
    applied = {label for label in labels if combined(label, p[label], thresholds.get(label), fired, vetoed, keeps.get(label, 0.0))}
    likely = {label for label in labels if thresholds.get(label) is not None and p[label] >= min(thresholds[label], SUPPRESS_AT)}
    return suppressed(applied, likely)


def cv_counts(posts: Sequence[dict[str, Any]], probs: Sequence[dict[str, float]], outcomes: Sequence[tuple[set[str], set[str]]],
              labels: Sequence[str], thresholds: Mapping[str, float | None], keeps: Mapping[str, float]) -> tuple[Counter, Counter]:
    """Out-of-fold tp/fp/fn per (group, language, label) of the rules alone and of the rules with
    the model at the chosen thresholds (check_in suppressing congratulate in both); a post's group
    is "train" for the train_* sets, "old" for the sets the rules were tuned on and "extra" for
    sets given on the command line (main's --extra), so a trial set is scored apart."""
    rules, both = Counter(), Counter()
    for post, p, (fired, vetoed) in zip(posts, probs, outcomes):
        gold = set(label for label, y in zip(labels, targets(post, labels)) if y)
        group = "extra" if post.get("extra") else "train" if post["set"].startswith(UNTUNED_PREFIX) else "old"
        for counts, got in ((rules, suppressed(set(fired))), (both, applied_labels(p, fired, vetoed, labels, thresholds, keeps))):
            if "signal:check_in" in gold and "signal:congratulate" in got:
                counts[(group, post["lang"], "sensitive congratulated", "n")] += 1
            for label in labels:
                part = "tp" if label in got and label in gold else "fp" if label in got else "fn" if label in gold else None
                if part:
                    counts[(group, post["lang"], label, part)] += 1
    return rules, both


def cv_table(rules: Counter, both: Counter) -> list[str]:
    """The CV report's lines: per group and language, topic and signal micro-F1 (rules alone ->
    with the model), then per label precision, recall and F1 with the model."""
    def prf(counts: Counter, group: str, lang: str, wanted: Iterable[str]) -> tuple[float, float, float]:
        tp, fp, fn = (sum(counts[(group, lang, label, part)] for label in wanted) for part in ("tp", "fp", "fn"))
        return (tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0, _f1(tp, fp, fn))

    labels = model_labels()
    topics = [label for label in labels if label.startswith("topic:")]
    signals = [label for label in labels if label.startswith("signal:")]
    lines = []
    for group, lang in sorted({key[:2] for key in both}, reverse=True):
        lines.append(f"CV {group} [{lang}] topics {prf(rules, group, lang, topics)[2]:.3f} -> {prf(both, group, lang, topics)[2]:.3f}  "
                     f"signals {prf(rules, group, lang, signals)[2]:.3f} -> {prf(both, group, lang, signals)[2]:.3f}  "
                     f"sensitive posts congratulated {rules[(group, lang, 'sensitive congratulated', 'n')]} -> {both[(group, lang, 'sensitive congratulated', 'n')]}")
        cells = []
        for label in labels:
            p, r, f = prf(both, group, lang, [label])
            cells.append(f"{label.partition(':')[2][:8]} P{p:.2f} R{r:.2f} F{f:.2f}")
        lines.append("    " + "  ".join(cells))
    return lines


def cross_validate(posts: Sequence[dict[str, Any]], rows: Sequence[set[Feature]], labels: Sequence[str], config: Config) -> dict[str, Any]:
    """Out-of-fold probabilities, thresholds chosen on the train_* posts, the CV report, and per
    post its out-of-fold misses (see misses)."""
    probs, refused, models = out_of_fold(posts, rows, labels, config)
    outcomes = [(fired, vetoes(blocked, refused[n])) for n, (fired, blocked) in enumerate(rule_outcomes(posts))]
    chosen = [n for n, post in enumerate(posts) if post["set"].startswith(UNTUNED_PREFIX)] or list(range(len(posts)))
    thresholds, keeps, report = choose_thresholds([posts[n] for n in chosen], [probs[n] for n in chosen], [outcomes[n] for n in chosen], labels, config)
    return {"thresholds": thresholds, "keep": keeps, "cv": report, "table": cv_table(*cv_counts(posts, probs, outcomes, labels, thresholds, keeps)),
            "threshold_posts": len(chosen), "misses": misses(posts, rows, probs, outcomes, models, labels, thresholds, keeps)}


def misses(posts: Sequence[dict[str, Any]], rows: Sequence[set[Feature]], probs: Sequence[dict[str, float]],
           outcomes: Sequence[tuple[set[str], set[str]]], models: Sequence[Scorer], labels: Sequence[str],
           thresholds: Mapping[str, float | None], keeps: Mapping[str, float]) -> list[dict[str, Any]]:
    """Per post the combination gets wrong out of fold: its false negatives and false positives,
    each with its out-of-fold probability, whether the rules fired it, and the features of the
    post's fold model that pushed the wrong way most (for error analysis; --errors)."""
    out = []
    for post, row, p, (fired, vetoed), model in zip(posts, rows, probs, outcomes, models):
        gold = {label for label, y in zip(labels, targets(post, labels)) if y}
        got = applied_labels(p, fired, vetoed, labels, thresholds, keeps)
        wrong = []
        for label in sorted((gold - got) | (got - gold)):
            sign = -1 if label in gold else 1  # a miss was held down, a false label pushed up
            out_at = model.labels.index(label)
            pushed = sorted((-sign * w, name) for f in row & model.vocabulary if sign * (w := model.weight(f, out_at)) > 0 for name in [feature_name(f)])
            wrong.append({"label": label, "kind": "FN" if label in gold else "FP", "p": round(p[label], 3), "rules": label in fired,
                          "features": [f"{name} {-sign * w / SCALE:+.2f}" for w, name in pushed[:4]]})
        if wrong:
            out.append({"id": post["id"], "set": post["set"], "lang": post["lang"], "text": post_norm(post), "gold": sorted(gold),
                        "got": sorted(got), "wrong": wrong})
    return out


def build(paths: Sequence[Path], config: Config = Config()) -> dict[str, Any]:
    """Cross-validate thresholds, train on everything and return the weights file's JSON form."""
    posts = load_posts(paths)
    rows = [post_features(post) for post in posts]
    labels = model_labels()
    cv = cross_validate(posts, rows, labels, config)
    thresholds, keeps, report = cv["thresholds"], cv["keep"], cv["cv"]
    bias, weights = train(rows, [targets(post, labels) for post in posts], labels, config)
    return {
        "format": FORMAT,
        "labels": list(labels),
        "thresholds": thresholds,
        "keep": keeps,
        **prune(bias, weights, config),
        "training": {**training_fingerprint(paths), "posts": len(posts), "threshold_posts": cv["threshold_posts"],
                     "gazetteer": load_gazetteer().fingerprint},
        "config": {key: value for key, value in vars(config).items() if not key.endswith("_grid")},
        "cv": report,
        "cv_table": cv["table"],
    }


def write(data: dict[str, Any], path: Path = WEIGHTS) -> None:
    """gzip the JSON with a fixed mtime, so the same data always gives the same bytes."""
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    path.write_bytes(gzip.compress(blob, compresslevel=9, mtime=0))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--folds", type=int, default=Config.folds)
    parser.add_argument("--cv-only", action="store_true", help="print the cross-validation report and write nothing")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a Config number (experiments)")
    parser.add_argument("--extra", action="append", default=[], type=Path, metavar="JSONL", help="train on this set too (experiments)")
    parser.add_argument("--errors", type=Path, metavar="JSONL", help="with --cv-only: write each post's out-of-fold misses here")
    args = parser.parse_args(argv)
    start = time.process_time()
    overrides = {name: type(getattr(Config, name))(value) for name, _, value in (item.partition("=") for item in args.set)}
    config = Config(folds=args.folds, **overrides)
    paths = training_files() + args.extra
    if args.cv_only:
        posts = [{**post, "extra": post["set"] in {path.name for path in args.extra}} for post in load_posts(paths)]
        cv = cross_validate(posts, [post_features(post) for post in posts], model_labels(), config)
        print("\n".join(cv["table"]))
        if args.errors:
            args.errors.write_text("".join(json.dumps(miss, ensure_ascii=False) + "\n" for miss in cv["misses"]), encoding="utf-8")
        print(f"cross-validated on {len(posts)} posts ({time.process_time() - start:.1f} CPU s)")
        return
    data = build(paths, config)
    write(data, args.out)
    for label, row in data["cv"].items():
        print(f"  {label:<22} rules F1 {row['rules_f1']:.3f}  combined {row['combined_f1']:.3f}  add at {row['threshold']}  keep at {row['keep']}")
    print("\n".join(data["cv_table"]))
    lines = ", ".join(f"{name} {info['lines']}" for name, info in data["training"]["files"].items())
    print(f"trained on {data['training']['posts']} posts ({lines}); {len(data['weights'])} features kept; "
          f"weights {weights_fingerprint(args.out)} -> {args.out} ({args.out.stat().st_size} bytes, {time.process_time() - start:.1f} CPU s)")


if __name__ == "__main__":
    main()
