"""`guanxi people add` and `people export-opml` through the real CLI, on a real DuckDB file."""

from guanxi.demo import SAMPLE_DIR
from guanxi.roster import parse_opml
from tests.conftest import run_cli, write_config
from tests.ingest_helpers import query


def test_export_round_trips_with_import(tmp_path):
    cfg = write_config(tmp_path)
    src = SAMPLE_DIR / "people.opml"
    assert run_cli("--config", str(cfg), "people", "import-opml", str(src)).code == 0
    out = tmp_path / "out.opml"
    res = run_cli("--config", str(cfg), "people", "export-opml", str(out))
    assert res.code == 0, res.err
    original = {(p.name, p.group, tuple(p.feeds)) for p in parse_opml(src.read_bytes())}
    exported = {(p.name, p.group, tuple(p.feeds)) for p in parse_opml(out.read_bytes())}
    assert exported == original and len(exported) == 4

    # Importing the export into a fresh store gives the same roster; twice changes nothing.
    (tmp_path / "b").mkdir()
    cfg2 = write_config(tmp_path / "b")
    for _ in range(2):
        assert run_cli("--config", str(cfg2), "people", "import-opml", str(out)).code == 0
    people = lambda c: query(c, """SELECT p.name, p.grp, list(s.spec ORDER BY s.spec) FROM people p
                                   JOIN sources s USING (person_id) GROUP BY ALL ORDER BY p.name""")
    assert people(cfg2) == people(cfg)
    again = run_cli("--config", str(cfg2), "people", "export-opml")  # stdout
    assert again.out.encode() == out.read_bytes()


def test_people_add_is_idempotent_and_exports(tmp_path):
    cfg = write_config(tmp_path)
    args = ["--config", str(cfg), "people", "add", "王芳", "https://wangfang.example/feed.xml",
            "rsshub:/weibo/user/123", "mastodon:@wang@social.example", "--group", "上海",
            "--alias", "Fang Wang", "--email", "fang@example.com"]
    first = run_cli(*args)
    assert first.code == 0 and first.out.strip() == "people: added 王芳; 3 sources added"
    second = run_cli(*args)
    assert second.out.strip() == "people: updated 王芳; 0 sources added"
    more = run_cli("--config", str(cfg), "people", "add", "Fang Wang", "bsky:fang.bsky.social")
    assert more.out.strip() == "people: added Fang Wang; 1 source added"  # names are exact; aliases are for matching
    assert query(cfg, "SELECT grp, aliases, email, origin FROM people WHERE name = '王芳'") == [
        ("上海", ["Fang Wang"], "fang@example.com", "cli")]
    kinds = query(cfg, "SELECT kind, url FROM sources ORDER BY source_id")
    assert kinds[:3] == [("feed", "https://wangfang.example/feed.xml"),
                         ("rsshub", "https://rsshub.app/weibo/user/123"),
                         ("mastodon", "https://social.example/@wang")]
    opml = parse_opml(run_cli("--config", str(cfg), "people", "export-opml").out.encode())
    assert [(p.name, p.group, p.feeds) for p in opml] == [
        ("Fang Wang", None, ["bsky:fang.bsky.social"]),
        ("王芳", "上海", ["https://wangfang.example/feed.xml", "rsshub:/weibo/user/123",
                        "mastodon:@wang@social.example"])]


def test_people_add_with_a_bad_spec_stores_nothing(tmp_path):
    cfg = write_config(tmp_path)
    res = run_cli("--config", str(cfg), "people", "add", "Ann", "https://ann.example/feed", "gopher:x")
    assert res.code == 1 and res.err.count("\n") == 1
    assert res.err.startswith("source: unknown kind 'gopher'")
    assert not (tmp_path / "store.duckdb").exists() or query(cfg, "SELECT count(*) FROM people") == [(0,)]
