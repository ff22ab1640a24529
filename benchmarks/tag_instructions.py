"""Instructions (valgrind's callgrind) spent tagging a fixed set of posts: a measure that other load
on the machine does not change, for comparing two versions of the tagger where CPU time is noisy.

    PYTHONPATH=. .venv/bin/python -m benchmarks.tag_instructions [--corpus fixture|unique|feeds]
        [--lang en|zh] [--posts 150]

It runs itself again under callgrind with instrumentation off, warms the tagger up (taxonomy,
jieba, scorer), switches instrumentation on (callgrind_control) only around the tagging loop and
prints the instructions per post. Callgrind counts instructions, not cache misses, so a change
that only saves memory traffic does not show here. Needs valgrind installed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def _corpus(name: str, lang: str | None, size: int) -> list[tuple[str, str]]:
    """The first `size` posts of one benchmark corpus (in `lang` only, if given)."""
    from benchmarks.bench_tagging import _load, no_repeat_corpus, synthetic_corpus, unique_lines
    from benchmarks.feeds import parsed_posts
    from transforms.lang import detect_lang

    posts = {"fixture": no_repeat_corpus, "unique": lambda: unique_lines(synthetic_corpus(_load())), "feeds": lambda: parsed_posts(4000)}[name]()
    if lang:
        posts = [post for post in posts if detect_lang(f"{post[0]}\n{post[1]}") == lang]
    return posts[:size]


def _tag_under_callgrind(name: str, lang: str | None, size: int) -> None:
    """The measured run (inside valgrind): warm up, then tag with instrumentation on."""
    from transforms.tagging import load_taxonomy, read_dictionary, tag_post

    posts = _corpus(name, lang, size)
    taxonomy = load_taxonomy()
    tag_post("warm-up", "被裁判罚下场: loads jieba once", taxonomy=taxonomy)
    read_dictionary()  # all of it: a state from the disk cache is otherwise read as posts need it
    control = ["callgrind_control", "-i"]
    subprocess.run([*control, "on", str(os.getpid())], check=True, capture_output=True)
    for title, text in posts:
        tag_post(title, text, taxonomy=taxonomy)
    subprocess.run([*control, "off", str(os.getpid())], check=True, capture_output=True)
    print(f"posts {len(posts)}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("fixture", "unique", "feeds"), default="fixture")
    parser.add_argument("--lang", choices=("en", "zh"))
    parser.add_argument("--posts", type=int, default=150)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        _tag_under_callgrind(args.corpus, args.lang, args.posts)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={Path(folder) / 'out'}",
                   sys.executable, "-m", "benchmarks.tag_instructions", *argv, "--inside"]
        run = subprocess.run(command, capture_output=True, text=True)
    collected = re.search(r"Collected : (\d+)", run.stderr)
    posts = re.search(r"posts (\d+)", run.stdout)
    if run.returncode or not collected or not posts:
        print(f"tag_instructions: callgrind run failed: {run.stderr.strip().splitlines()[-1:] or run.returncode}", file=sys.stderr)
        return 1
    count, total = int(posts.group(1)), int(collected.group(1))
    print(f"{args.corpus} {args.lang or 'all'}: {total:,} instructions for {count} posts, {total / count / 1e6:.2f} M per post")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
