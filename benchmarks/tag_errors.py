"""Error analysis for the tagger: false negatives and false positives per label, per labelled set.

Run: PYTHONPATH=. python -m benchmarks.tag_errors [set ...] [--label LABEL] [--summary] [--rules-only]
Sets are fixture file names (labelled_posts.jsonl, labelled_posts_2.jsonl, heldout_posts.jsonl);
default all three. --summary prints only the per-language scores table; --rules-only turns the
learned scorer off (the scorer was trained on every set but final_blind_posts.jsonl, so only that
one measures it fairly).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.bench_tagging import FIXTURES, _load, _prf, rules_only
from transforms.tagging import Taxonomy, load_taxonomy, tag_post

SETS = ("labelled_posts.jsonl", "labelled_posts_2.jsonl", "heldout_posts.jsonl")


def errors(posts: list[dict[str, Any]], taxonomy: Taxonomy | None = None) -> tuple[list[tuple[str, str, str, dict, Any]], Counter]:
    """Every (kind, label, 'FN'|'FP', post, tags) miss in a set, and tp/fp/fn counts per (lang, kind, label)."""
    taxonomy = taxonomy or load_taxonomy()
    misses, counts = [], Counter()
    for post in posts:
        tags = tag_post(post["title"], post["text"], taxonomy=taxonomy)
        for kind in ("topics", "signals"):
            gold, got = set(post[kind]), set(getattr(tags, kind))
            for label in getattr(taxonomy, kind):
                if label in gold and label in got:
                    counts[(post["lang"], kind, label, "tp")] += 1
                elif label in gold:
                    counts[(post["lang"], kind, label, "fn")] += 1
                    misses.append((kind, label, "FN", post, tags))
                elif label in got:
                    counts[(post["lang"], kind, label, "fp")] += 1
                    misses.append((kind, label, "FP", post, tags))
    return misses, counts


def summary(counts: Counter) -> dict[str, dict[str, Any]]:
    """Per language: topic micro, signal micro and per-signal P/R/F1."""
    out: dict[str, dict[str, Any]] = {}
    for lang in sorted({key[0] for key in counts}):
        row: dict[str, Any] = {}
        for kind in ("topics", "signals"):
            row[kind] = _prf(*(sum(v for k, v in counts.items() if k[0] == lang and k[1] == kind and k[3] == part) for part in ("tp", "fp", "fn")))
        for label in ("congratulate", "offer_help", "check_in"):
            row[label] = _prf(*(counts[(lang, "signals", label, part)] for part in ("tp", "fp", "fn")))
        out[lang] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", default=list(SETS))
    parser.add_argument("--label")
    parser.add_argument("--summary", action="store_true")
    parser.add_argument("--rules-only", action="store_true")
    args = parser.parse_args()
    taxonomy = rules_only() if args.rules_only else load_taxonomy()
    for name in args.sets:
        misses, counts = errors(_load(FIXTURES / Path(name).name), taxonomy)
        if not args.summary:
            for kind, label, what, post, tags in sorted(misses, key=lambda m: (m[1], m[2])):
                if args.label and label != args.label:
                    continue
                ev = {k: v for k, v in tags.evidence.items()}
                print(f"[{name[:-6]}] {what} {label:<13} {post['id']}: {post['title']} {post['text'][:160]!r}  evidence={ev}")
        for lang, row in summary(counts).items():
            cells = "  ".join(f"{k[:6]} P{v['precision']:.2f} R{v['recall']:.2f} F{v['f1']:.3f}" for k, v in row.items())
            print(f"== {name} [{lang}] {cells}")


if __name__ == "__main__":
    main()
