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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import exp, sqrt
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from transforms.scorer import (  # noqa: E402
    FORMAT, WEIGHTS, Feature, Scorer, _exclusions, evidence, feature_name, features, scorer_from_dict, weights_fingerprint,
)
from transforms.tagging import _normalise_post, load_taxonomy, tag_post  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
# Measured only, never trained or tuned on.
SEALED = ("final_blind_posts.jsonl",)
# Sets written for the scorer: the rules were never tuned on them, so thresholds are chosen there.
UNTUNED_PREFIX = "train_"


@dataclass(frozen=True)
class Config:
    """Everything that decides the weights besides the data."""

    seed: int = 20261201
    epochs: int = 10
    learning_rate: float = 0.4
    l2: float = 0.03
    skip: float = 0.01  # a post whose error for a label is below this teaches that label nothing
    min_count: int = 2
    prune: float = 0.05  # weights smaller than this in magnitude are dropped
    digits: int = 3
    folds: int = 5
    topic_grid: tuple[float, ...] = tuple(round(0.2 + 0.05 * i, 2) for i in range(16))  # 0.20 .. 0.95
    signal_grid: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.50 .. 0.95
    min_gain: float = 0.005  # a label's threshold is kept only if it raises the label's CV F1 this much


def training_files(folder: Path = FIXTURES) -> list[Path]:
    """Every labelled set except the sealed one, in name order."""
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


def train(rows: Sequence[set[Feature]], ys: Sequence[tuple[int, ...]], size: int, config: Config) -> tuple[list[float], dict[Feature, list[float]]]:
    """One-vs-rest logistic regression with L2 by AdaGrad; returns (bias, weights per feature)."""
    vocab = vocabulary(rows, config.min_count)
    index = {f: i for i, f in enumerate(vocab)}
    xs = [sorted(index[f] for f in row if f in index) for row in rows]
    weights = [[0.0] * size for _ in vocab]
    squares = [[1e-8] * size for _ in vocab]
    bias, bias_squares = [0.0] * size, [1e-8] * size
    rate, l2, skip = config.learning_rate, config.l2, config.skip
    order = list(range(len(rows)))
    rng = random.Random(config.seed)
    labels = range(size)
    for _ in range(config.epochs):
        rng.shuffle(order)
        for n in order:
            x, y = xs[n], ys[n]
            z = list(map(sum, zip(bias, *(weights[i] for i in x)))) if x else list(bias)
            for k in labels:
                g = 1.0 / (1.0 + exp(-max(min(z[k], 35.0), -35.0))) - y[k]
                if -skip < g < skip:  # nothing left to learn from this post for this label
                    continue
                bias_squares[k] += g * g
                bias[k] -= rate * g / sqrt(bias_squares[k])
                for i in x:
                    w, s = weights[i], squares[i]
                    step = g + l2 * w[k]
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
    bias, weights = train(rows, ys, len(labels), config)
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


def out_of_fold(posts: Sequence[dict[str, Any]], rows: Sequence[set[Feature]], labels: Sequence[str], config: Config) -> tuple[list[dict[str, float]], list[set[str]]]:
    """Each post's probabilities from a model trained on the other folds, and the labels that model
    could not add to it whatever the threshold (see unsupported)."""
    fold = folds_of(posts, config.folds, config.seed)
    probs: list[dict[str, float]] = [{} for _ in posts]
    vetoed: list[set[str]] = [set() for _ in posts]
    lowest = min(config.topic_grid + config.signal_grid)
    exclusions = _label_exclusions()
    for k in range(config.folds):
        train_at = [n for n in range(len(posts)) if fold[n] != k]
        scorer = fit([posts[n] for n in train_at], [rows[n] for n in train_at], labels, config)
        for n in range(len(posts)):
            if fold[n] == k:
                probs[n] = scorer.probabilities(rows[n])
                vetoed[n] = unsupported(scorer, rows[n], post_norm(posts[n]), {l for l, p in probs[n].items() if p >= lowest}, exclusions)
    return probs, vetoed


def _label_exclusions() -> dict[str, Any]:
    """Each default label's exclusion pattern, by model label name."""
    return {f"{label.kind}:{label.id}": _exclusions(label) for label in load_taxonomy().labels}


def unsupported(scorer: Scorer, found: set[Feature], norm: str, candidates: Iterable[str], exclusions: dict[str, Any]) -> set[str]:
    """Among `candidates`, the labels Bound.add would refuse in this post: one of its taxonomy
    exclusions is there, or no strong content feature speaks for it."""
    matched = found & scorer.vocabulary
    refused = set()
    for label in candidates:
        pattern = exclusions.get(label)
        if (pattern is not None and pattern.search(norm)) or not evidence(scorer, scorer.labels.index(label), matched & scorer.explainers, norm):
            refused.add(label)
    return refused


class _Recorder:
    """Stands in for a bound scorer to see what the rules decided: fired and blocked labels."""

    def __init__(self) -> None:
        self.seen: tuple[set[int], set[int]] = (set(), set())

    def add(self, norm: str, fired: set[int], blocked: set[int]) -> dict[int, tuple[str, ...]]:
        self.seen = (set(fired), set(blocked))
        return {}


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


def combined(label: str, prob: float, threshold: float | None, fired: set[str], vetoed: set[str]) -> bool:
    """Whether the combination applies `label` (before check_in suppresses congratulate): the rules
    fired it, or the model is confident and nothing vetoes it (see vetoes)."""
    if label in fired:
        return True
    return threshold is not None and prob >= threshold and label not in vetoed


def vetoes(blocked: set[str], refused: set[str]) -> set[str]:
    """Labels the model may not add to a post: signals the rules' context readers blocked, and
    labels it could not support there (unsupported)."""
    return {label for label in blocked if label.startswith("signal:")} | refused


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def choose_thresholds(posts: Sequence[dict[str, Any]], probs: Sequence[dict[str, float]], outcomes: Sequence[tuple[set[str], set[str]]],
                      labels: Sequence[str], config: Config) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Per label, the threshold whose combination with the rules scores the best F1 on these posts
    (ties: the higher threshold), or None when no threshold beats the rules alone by min_gain.
    `outcomes` holds per post the labels the rules fired and those the model may not add."""
    thresholds: dict[str, float | None] = {}
    report: dict[str, Any] = {}
    for label, gold in zip(labels, zip(*(targets(post, labels) for post in posts))):
        def f1_at(threshold: float | None) -> float:
            counts = Counter()
            for y, p, (fired, vetoed) in zip(gold, probs, outcomes):
                got = combined(label, p[label], threshold, fired, vetoed)
                counts["tp" if got and y else "fp" if got else "fn" if y else "tn"] += 1
            return _f1(counts["tp"], counts["fp"], counts["fn"])

        rules = f1_at(None)
        grid = config.signal_grid if label.startswith("signal:") else config.topic_grid
        best, best_f1 = None, rules + config.min_gain
        for threshold in sorted(grid, reverse=True):
            score = f1_at(threshold)
            if score > best_f1 + 1e-12:
                best, best_f1 = threshold, score
        thresholds[label] = best
        report[label] = {"rules_f1": round(rules, 3), "combined_f1": round(best_f1 if best is not None else rules, 3), "threshold": best}
    return thresholds, report


def build(paths: Sequence[Path], config: Config = Config()) -> dict[str, Any]:
    """Cross-validate thresholds, train on everything and return the weights file's JSON form."""
    posts = load_posts(paths)
    rows = [post_features(post) for post in posts]
    labels = model_labels()
    probs, refused = out_of_fold(posts, rows, labels, config)
    chosen = [n for n, post in enumerate(posts) if post["set"].startswith(UNTUNED_PREFIX)] or list(range(len(posts)))
    outcomes = [(fired, vetoes(blocked, refused[n])) for n, (fired, blocked) in zip(chosen, rule_outcomes([posts[n] for n in chosen]))]
    thresholds, report = choose_thresholds([posts[n] for n in chosen], [probs[n] for n in chosen], outcomes, labels, config)
    bias, weights = train(rows, [targets(post, labels) for post in posts], len(labels), config)
    return {
        "format": FORMAT,
        "labels": list(labels),
        "thresholds": thresholds,
        **prune(bias, weights, config),
        "training": {**training_fingerprint(paths), "posts": len(posts), "threshold_posts": len(chosen)},
        "config": {key: value for key, value in vars(config).items() if not key.endswith("_grid")},
        "cv": report,
    }


def write(data: dict[str, Any], path: Path = WEIGHTS) -> None:
    """gzip the JSON with a fixed mtime, so the same data always gives the same bytes."""
    blob = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    path.write_bytes(gzip.compress(blob, compresslevel=9, mtime=0))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--folds", type=int, default=Config.folds)
    args = parser.parse_args(argv)
    start = time.process_time()
    paths = training_files()
    data = build(paths, Config(folds=args.folds))
    write(data, args.out)
    for label, row in data["cv"].items():
        print(f"  {label:<22} rules F1 {row['rules_f1']:.3f}  combined {row['combined_f1']:.3f}  threshold {row['threshold']}")
    lines = ", ".join(f"{name} {info['lines']}" for name, info in data["training"]["files"].items())
    print(f"trained on {data['training']['posts']} posts ({lines}); {len(data['weights'])} features kept; "
          f"weights {weights_fingerprint(args.out)} -> {args.out} ({args.out.stat().st_size} bytes, {time.process_time() - start:.1f} CPU s)")


if __name__ == "__main__":
    main()
