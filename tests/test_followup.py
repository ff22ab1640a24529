"""The follow-up loop end to end through the real `guanxi` CLI on the sample data."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


@pytest.fixture
def ingested(demo_config):
    r = run_cli("--config", str(demo_config), "ingest")
    assert r.code == 0, r.err
    return demo_config


def starters(cfg) -> list[dict]:
    r = run_cli("--config", str(cfg), "starters", "--format", "json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def sql(cfg, query):
    r = run_cli("--config", str(cfg), "sql", query, "--format", "json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_done_and_skip_suppress_and_done_restarts_cadence(ingested):
    cfg = ingested
    first = starters(cfg)
    assert first and all(set(s) == {"id", "person", "signal", "text", "reasons", "post_url"} for s in first)
    assert [s["id"] for s in starters(cfg)] == [s["id"] for s in first]  # stable for the same day
    calendar = [s for s in first if any(r.startswith("meeting today") for r in s["reasons"])]
    assert calendar, "the sample calendar puts people in today's meetings"
    used, useless = first[0], next(s for s in first[1:] if s["person"] != first[0]["person"])

    r = run_cli("--config", str(cfg), "done", used["id"])
    assert r.code == 0, r.err
    r = run_cli("--config", str(cfg), "skip", useless["id"])
    assert r.code == 0, r.err

    again = starters(cfg)
    ids = {s["id"] for s in again}
    assert used["id"] not in ids and useless["id"] not in ids
    if used["signal"]:  # a post starter: its post never comes back, under any id
        assert used["post_url"] not in {s["post_url"] for s in again if s["signal"]}
    contacts = sql(cfg, "SELECT p.name, c.kind FROM contacts c JOIN people p USING (person_id)")
    assert {"name": used["person"], "kind": "starter"} in contacts
    assert not any(c["name"] == useless["person"] for c in contacts)
    fb = sql(cfg, "SELECT starter_id, action FROM starter_feedback ORDER BY action")
    assert fb == [{"starter_id": used["id"], "action": "done"}, {"starter_id": useless["id"], "action": "skip"}]


def test_log_and_favour_by_alias_and_email_change_the_ranking(ingested):
    cfg = ingested
    before = starters(cfg)
    assert not any(r.startswith("you owe a favour") for s in before if s["person"] == "张明" for r in s["reasons"])
    r = run_cli("--config", str(cfg), "favour", "Kevin Zhang", "--received", "Fixed my soldering station")
    assert r.code == 0, r.err
    after = starters(cfg)
    zm = [s for s in after if s["person"] == "张明"]
    assert any("you owe a favour: fixed my soldering station" in s["reasons"] for s in zm)

    r = run_cli("--config", str(cfg), "favour", "ZHANG.MING@example.com", "--gave", "Soldering tips")
    assert r.code == 0, r.err
    assert not any("you owe a favour" in x for s in starters(cfg) if s["person"] == "张明" for x in s["reasons"])

    r = run_cli("--config", str(cfg), "log", "Leo Liu", "Visited him at home", "--kind", "met")
    assert r.code == 0, r.err
    rows = sql(cfg, "SELECT p.name, c.kind, c.note FROM contacts c JOIN people p USING (person_id)")
    assert {"name": "刘洋", "kind": "met", "note": "Visited him at home"} in rows
    assert not any("no contact logged" in x for s in starters(cfg) if s["person"] == "刘洋" for x in s["reasons"])


@pytest.mark.parametrize("args, stage", [
    (("done", "0000000000"), "done:"), (("skip", "nope"), "skip:"),
    (("log", "Nobody Here", "hi"), "log:"), (("favour", "Nobody", "--gave", "x"), "favour:")])
def test_unknown_person_or_id_is_one_line_exit_1(ingested, args, stage):
    r = run_cli("--config", str(ingested), *args)
    assert r.code == 1
    assert r.err.startswith(stage) and len(r.err.strip().splitlines()) == 1


def test_demo_shows_every_section(tmp_path):
    r = run_cli("demo", "--dir", str(tmp_path / "demo"))
    assert r.code == 0, r.err
    html = (tmp_path / "demo" / "digests").glob("*.html").__next__().read_text(encoding="utf-8")
    for sid in ("meeting_today", "congratulate", "offer_help", "check_in", "catch_up", "favours",
                "gone_quiet", "introduce"):
        assert f'id="section-{sid}"' in html, sid
    order = [html.index(f'id="section-{sid}"') for sid in ("meeting_today", "congratulate", "favours", "introduce")]
    assert order == sorted(order)
