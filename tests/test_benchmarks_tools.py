"""The speed tools: the store checker tells stores apart, the CPU and instruction counters run."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.store_equivalence import differences
from guanxi import store

ROOT = Path(__file__).resolve().parent.parent


def _store(path: Path, text: str) -> str:
    with store.write_window(path) as con:
        con.execute("INSERT INTO people (name) VALUES ('Li Wei')")
        con.execute("INSERT INTO sources (person_id, kind, spec, url) VALUES (1, 'feed', 'u', 'https://x/')")
        con.execute("INSERT INTO posts (post_id, person_id, source_id, title, text, fetched_at) "
                    "VALUES ('p1', 1, 1, 'Hi', ?, now())", [text])
        con.execute("INSERT INTO post_topics VALUES ('p1', 'work', ['team'])")
    return str(path)


def test_store_checker_finds_a_changed_text_and_ignores_the_clock(tmp_path):
    a = _store(tmp_path / "a.duckdb", "the team shipped")
    same = _store(tmp_path / "same.duckdb", "the team shipped")  # another fetched_at
    changed = _store(tmp_path / "changed.duckdb", "the team  shipped")
    assert differences(a, same) == []
    diffs = differences(a, changed)
    assert "posts: 1 rows only before" in diffs and "posts: 1 rows only after" in diffs


def test_ingest_cpu_counts_stages_in_the_workers_and_the_storing_process():
    p = subprocess.run([sys.executable, "-m", "benchmarks.ingest_cpu", "--feeds", "70", "--entries", "2", "--warm", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert re.search(r"worker processes\s+[1-9]", p.stdout)
    assert re.search(r"worker:\s+parse feed bytes\s+\d+\.\d\d CPU-s", p.stdout)
    assert re.search(r"main:\s+store a wave\s+\d+\.\d\d CPU-s", p.stdout)
    assert re.search(r"re-check, 1 runs .*sources: 0 ok, 70 not modified, 0 failed", p.stdout)
    assert re.search(r"fetch \(all 304s expected\)\s+\d+\.\d{3} CPU-s", p.stdout)


def test_instruction_counter_picks_posts_of_one_language():
    from benchmarks.tag_instructions import _corpus
    from transforms.lang import detect_lang

    posts = _corpus("fixture", "zh", 5)
    assert len(posts) == 5 and {detect_lang(f"{title}\n{text}") for title, text in posts} == {"zh"}


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_counter_runs_under_callgrind():
    p = subprocess.run([sys.executable, "-m", "benchmarks.tag_instructions", "--lang", "en", "--posts", "2"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert re.fullmatch(r"fixture en: [\d,]+ instructions for 2 posts, \d+\.\d\d M per post\n", p.stdout)
