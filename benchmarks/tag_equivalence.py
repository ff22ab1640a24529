"""Dump tag_post output for every labelled fixture post, the benchmark corpora (stitched labelled
posts, the benchmark feeds' posts, fixture lines never repeated) and posts mixed across languages,
or check it against a dump.

Speed work on the tagger must not change a single tag; run this before the change to make a
reference and after it to compare:

    .venv/bin/python -m benchmarks.tag_equivalence dump /tmp/tags_reference.json
    .venv/bin/python -m benchmarks.tag_equivalence check /tmp/tags_reference.json
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from benchmarks.bench_tagging import FIXTURES, _load, no_repeat_corpus, synthetic_corpus
from benchmarks.feeds import parsed_posts
from transforms.tagging import load_taxonomy, tag_post

# Every labelled set, sealed ones included: tags are only compared, nothing is tuned on them.
FIXTURE_FILES = tuple(sorted(path.name for path in FIXTURES.glob("*posts*.jsonl")))
# Posts of the benchmark feeds (benchmarks/feeds.py), as benchmarks/run.py's tagging row reads them.
FEED_POSTS = 4000


def _mixed(posts: list[dict[str, Any]], size: int = 500, seed: int = 7) -> list[tuple[str, str]]:
    """Posts stitched across languages and fixture files, with sentence ends in odd places."""
    rng = random.Random(seed)
    joins = ["\n", " ", "。", "! ", ", ", "，", ""]
    return [
        (rng.choice(posts)["title"], rng.choice(joins).join(rng.choice(posts)["text"] for _ in range(rng.randint(1, 4))))
        for _ in range(size)
    ]


def cases() -> list[tuple[str, str, str]]:
    """(name, title, text) for every post the check covers."""
    out: list[tuple[str, str, str]] = []
    every: list[dict[str, Any]] = []
    for name in FIXTURE_FILES:
        posts = _load(FIXTURES / name)
        every.extend(posts)
        out.extend((f"{name}:{post.get('id', i)}", post["title"], post["text"]) for i, post in enumerate(posts))
    out.extend((f"bench:{i}", title, text) for i, (title, text) in enumerate(synthetic_corpus(_load())))
    out.extend((f"mixed:{i}", title, text) for i, (title, text) in enumerate(_mixed(every)))
    out.extend((f"feeds:{i}", title, text) for i, (title, text) in enumerate(parsed_posts(FEED_POSTS)))
    out.extend((f"no_repeat:{i}", title, text) for i, (title, text) in enumerate(no_repeat_corpus()))
    return out


def dump() -> dict[str, Any]:
    """name -> tag_post output as plain JSON."""
    taxonomy = load_taxonomy()
    result = {}
    for name, title, text in cases():
        tags = tag_post(title, text, taxonomy=taxonomy)
        result[name] = {
            "topics": list(tags.topics),
            "signals": list(tags.signals),
            "lang": tags.lang,
            "evidence": {label: list(words) for label, words in tags.evidence.items()},
        }
    return result


def main(argv: list[str]) -> int:
    """`dump PATH` writes the reference; `check PATH` compares against it (exit 1 on any difference)."""
    if len(argv) != 2 or argv[0] not in ("dump", "check"):
        print("usage: python -m benchmarks.tag_equivalence dump|check PATH", file=sys.stderr)
        return 2
    mode, path = argv[0], Path(argv[1])
    current = dump()
    if mode == "dump":
        path.write_text(json.dumps(current, ensure_ascii=False, indent=0, sort_keys=True), encoding="utf-8")
        print(f"wrote {len(current)} posts to {path}")
        return 0
    reference = json.loads(path.read_text(encoding="utf-8"))
    differ = [name for name in reference if reference[name] != current.get(name)]
    differ += [name for name in current if name not in reference]
    for name in differ[:20]:
        print(f"{name}: expected {reference.get(name)} got {current.get(name)}")
    print(f"{len(current)} posts, {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
