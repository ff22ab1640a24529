"""Every command end to end through the real `guanxi` console script, on real files."""

import json
import re
import time

import duckdb
import pytest

from guanxi.demo import SAMPLE_DIR
from tests.conftest import run_cli


def test_help_is_quick_and_light():
    start = time.monotonic()
    res = run_cli("--help")
    assert res.code == 0 and "ingest" in res.out and "people" in res.out
    assert time.monotonic() - start < 5  # generous: only guards against importing Prefect/jieba


def test_missing_config_is_one_line(tmp_path):
    res = run_cli("--config", str(tmp_path / "missing.toml"), "people", "list")
    assert res.code != 0 and res.out == ""
    assert res.err.strip() == f"config: file not found: {tmp_path / 'missing.toml'}"
    assert "Traceback" not in res.err


def test_bad_config_key_is_one_line(tmp_path):
    cfg = tmp_path / "g.toml"
    cfg.write_text('[digest]\ntimezone = "Nowhere/Land"\n')
    res = run_cli("--config", str(cfg), "ingest")
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1
    assert "digest.timezone is not an IANA time zone name" in res.err


def test_ingest_people_list_sql_starters_digest(demo_config, tmp_path):
    c = ("--config", str(demo_config))
    first = run_cli(*c, "ingest")
    assert first.code == 0, first.err
    assert first.out.startswith("sources: 10 ok, 0 not modified, 0 failed; posts: 48 new, 0 updated")
    again = run_cli(*c, "ingest")
    assert "posts: 0 new, 0 updated" in again.out

    people = run_cli(*c, "people", "list")
    assert people.code == 0 and "李伟" in people.out and "Sarah Chen" in people.out
    assert people.out.count("  ok  ") == 10

    sql = run_cli(*c, "sql", "SELECT count(*) AS n, count(DISTINCT post_id) AS d FROM posts", "--format", "json")
    assert json.loads(sql.out) == [{"n": 48, "d": 48}]
    csv_out = run_cli(*c, "sql", "SELECT name FROM people ORDER BY name", "--format", "csv")
    assert csv_out.out.splitlines()[0] == "name" and "刘洋" in csv_out.out
    table = run_cli(*c, "sql", "SELECT name, grp FROM people ORDER BY name LIMIT 2")
    assert "(2 rows)" in table.out
    write = run_cli(*c, "sql", "DELETE FROM posts")
    assert write.code == 1 and write.err.startswith("sql: ") and "read-only" in write.err
    assert json.loads(run_cli(*c, "sql", "SELECT count(*) n FROM posts", "--format", "json").out) == [{"n": 48}]

    starters = run_cli(*c, "starters", "--format", "json")
    items = json.loads(starters.out)
    assert items and set(items[0]) >= {"id", "person", "signal", "text", "reasons", "post_url"}
    assert run_cli(*c, "starters", "--format", "json").out == starters.out  # ids stable

    out_dir = tmp_path / "digests-here"
    dig = run_cli(*c, "digest", "--out", str(out_dir), "--date", "2026-11-22")
    assert dig.code == 0 and dig.out.strip() == str(out_dir / "digest-2026-11-22.html")
    assert (out_dir / "digest-2026-11-22.txt").exists()


def test_import_opml_twice_changes_nothing(tmp_path):
    cfg = tmp_path / "g.toml"
    cfg.write_text('[store]\npath = "s.duckdb"\n')
    opml = SAMPLE_DIR / "people.opml"
    first = run_cli("--config", str(cfg), "people", "import-opml", str(opml))
    assert first.code == 0, first.err
    con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    snapshot = con.execute("SELECT p.name, p.grp, s.url FROM people p JOIN sources s USING (person_id) ORDER BY ALL").fetchall()
    con.close()
    assert len({r[0] for r in snapshot}) == 4 and all(r[1] for r in snapshot)
    assert len([r for r in snapshot if r[0] == "李伟"]) == 2  # two outlines, one person
    second = run_cli("--config", str(cfg), "people", "import-opml", str(opml))
    assert "0 people and 0 sources added" in second.out
    con = duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True)
    assert con.execute("SELECT p.name, p.grp, s.url FROM people p JOIN sources s USING (person_id) ORDER BY ALL").fetchall() == snapshot
    con.close()


@pytest.mark.parametrize("content, needle", [
    (b"<opml><head/></opml>", "no <body> element"),
    (b"<opml><body><outline", "not well-formed XML"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><opml><body/></opml>', "DOCTYPE/ENTITY"),
])
def test_malformed_opml_one_line_and_nothing_lost(tmp_path, content, needle):
    cfg = tmp_path / "g.toml"
    cfg.write_text('[store]\npath = "s.duckdb"\n')
    run_cli("--config", str(cfg), "people", "import-opml", str(SAMPLE_DIR / "people.opml"))
    bad = tmp_path / "bad.opml"
    bad.write_bytes(content)
    res = run_cli("--config", str(cfg), "people", "import-opml", str(bad))
    assert res.code == 1 and needle in res.err and len(res.err.strip().splitlines()) == 1
    people = run_cli("--config", str(cfg), "sql", "SELECT count(*) n FROM people", "--format", "json")
    assert json.loads(people.out) == [{"n": 4}]
    missing = run_cli("--config", str(cfg), "people", "import-opml", str(tmp_path / "none.opml"))
    assert missing.code == 1 and missing.err.startswith("opml: cannot read")


def test_tag_reads_and_writes_json_lines(tmp_path):
    lines = "\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"id": "a", "title": "Promoted!", "text": "Thrilled to share I was promoted to engineering manager"},
        {"id": 2, "text": "奶奶昨天去世了，这几天请假回老家。"},
        {"id": "c", "text": "Any recommendations for a good dim sum place near the office?"},
    ]) + "\nnot json\n"
    res = run_cli("tag", stdin=lines, cwd=tmp_path)
    out = [json.loads(x) for x in res.out.splitlines()]
    assert [o["id"] for o in out] == ["a", 2, "c"]
    assert "congratulate" in out[0]["signals"] and out[0]["lang"] == "en"
    assert out[1]["signals"] == ["check_in"] and out[1]["lang"] == "zh"
    assert "offer_help" in out[2]["signals"]
    assert all(set(o) == {"id", "topics", "signals", "lang"} for o in out)
    assert res.code == 1 and res.err.strip().startswith("tag: line 4:")


def test_demo_prints_digest_path(tmp_path):
    res = run_cli("demo", "--dir", str(tmp_path / "demo"))
    assert res.code == 0, res.err
    path = tmp_path / "demo" / "digests"
    html_files = list(path.glob("digest-*.html"))
    assert res.out.strip() == str(html_files[0])
    html = html_files[0].read_text(encoding="utf-8")
    names = ["李伟", "王芳", "Sarah Chen", "Tom Becker", "Priya Nair", "张明", "刘洋"]
    assert sum(n in html for n in names) >= 5
    # The sample pictures were served by the demo's own server, gone now: they are in the page.
    srcs = re.findall(r'<img class="thumb"[^>]* src="([^"]+)"', html)
    assert len(srcs) >= 3 and all(s.startswith("data:image/png;base64,") for s in srcs), srcs
    text = html_files[0].with_suffix(".txt").read_text(encoding="utf-8")
    starters = [line[2:] for line in text.splitlines() if line.startswith("* ")]
    cjk = [s for s in starters if sum("\u4e00" <= ch <= "\u9fff" for ch in s.split(":", 1)[1]) > 10]
    latin = [s for s in starters if not any("\u4e00" <= ch <= "\u9fff" for ch in s.split(":", 1)[1])]
    assert cjk and latin, starters  # starters in both languages


def test_run_is_the_daily_flow(demo_config, tmp_path):
    env = {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_LOGGING_LEVEL": "WARNING"}
    res = run_cli("--config", str(demo_config), "run", "--no-send", env=env, timeout=240)
    assert res.code == 0, res.err[-2000:]
    digest = demo_config.parent / "digests"
    assert res.out.strip().endswith(".html") and list(digest.glob("digest-*.html"))
    posts = run_cli("--config", str(demo_config), "sql", "SELECT count(*) n FROM posts", "--format", "json")
    assert json.loads(posts.out) == [{"n": 48}]
