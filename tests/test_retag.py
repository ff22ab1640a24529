"""`guanxi retag`: an edited taxonomy is re-applied to stored posts, only where it is stale."""

import duckdb

from guanxi.config import load_config
from guanxi.ingest import ingest, retag
from tests.conftest import run_cli, write_config
from tests.loopback import static
from tests.test_ingest import RSS, people_block
from transforms.tagging import load_taxonomy, taxonomy_fingerprint


def _tags(store):
    con = duckdb.connect(str(store), read_only=True)
    try:
        topics = sorted(con.execute("SELECT post_id, topic, evidence FROM post_topics").fetchall())
        marks = {fp for (fp,) in con.execute("SELECT DISTINCT tagged_with FROM posts").fetchall()}
        return topics, marks
    finally:
        con.close()


def test_retag_applies_an_edited_taxonomy_to_stale_posts_only(tmp_path, server):
    server.routes["/rss"] = static(RSS)
    taxonomy = tmp_path / "mine.toml"
    taxonomy.write_text('[topics.mountains]\nen = ["snow mountain"]\nzh = ["雪山"]\n', encoding="utf-8")
    cfg = write_config(tmp_path, people=people_block(server, "/rss"))
    config = load_config(str(cfg))
    ingest(config, say=lambda m: None)  # tagged with the default taxonomy
    topics, marks = _tags(config.store_path)
    assert not any(topic == "mountains" for _, topic, _ in topics)
    assert marks == {taxonomy_fingerprint(load_taxonomy())}

    edited = load_taxonomy(taxonomy)
    assert retag(config.store_path, taxonomy=edited, batch_size=1, say=lambda m: None) == 2
    topics, marks = _tags(config.store_path)
    assert marks == {taxonomy_fingerprint(edited)}
    assert [(topic, list(evidence)) for _, topic, evidence in topics if topic == "mountains"] == [
        ("mountains", ["snow mountain"])]
    assert sum(topic == "travel" for _, topic, _ in topics) == 1  # old labels rewritten, not doubled
    # Up to date now: nothing to do, unless forced.
    assert retag(config.store_path, taxonomy=edited, say=lambda m: None) == 0
    assert retag(config.store_path, taxonomy=edited, force=True, say=lambda m: None) == 2
    assert _tags(config.store_path)[0] == topics


def test_retag_command_uses_the_configured_taxonomy(tmp_path, server):
    server.routes["/rss"] = static(RSS)
    (tmp_path / "mine.toml").write_text('[topics.mountains]\nen = ["snow mountain"]\n', encoding="utf-8")
    cfg = write_config(tmp_path, people=people_block(server, "/rss"))
    ingest(load_config(str(cfg)), say=lambda m: None)
    cfg.write_text(cfg.read_text(encoding="utf-8") + '\n[taxonomy]\npath = "mine.toml"\n', encoding="utf-8")
    result = run_cli("--config", str(cfg), "retag")
    assert result.code == 0, result.err
    assert result.out.strip() == "retag: 2 posts re-tagged"
    assert run_cli("--config", str(cfg), "retag").out.strip() == "retag: 0 posts re-tagged"
    topics, _ = _tags(tmp_path / "store.duckdb")
    assert ("mountains", ["snow mountain"]) in [(t, list(e)) for _, t, e in topics]
