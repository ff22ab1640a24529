"""Mastodon connector against a loopback 'instance' serving the public REST API and RSS."""

from pathlib import Path

from connectors.sources import SourceOptions, resolve_spec
from tests.ingest_helpers import make_config, query, run_ingest, source
from tests.loopback import Reply, static

FIX = Path(__file__).with_name("fixtures") / "mastodon"
HTTP = '[mastodon]\nscheme = "http"\n'


def serve_instance(server, *, api: bool = True) -> None:
    if api:
        server.routes["/api/v1/accounts/lookup"] = static((FIX / "lookup.json").read_bytes(), "application/json")
        server.routes["/api/v1/accounts/109876/statuses"] = static(
            (FIX / "statuses.json").read_bytes(), "application/json; charset=utf-8", etag='W/"s1"')
    else:
        server.routes["/api/v1/accounts/lookup"] = lambda req: Reply(401, b'{"error":"This method requires an authenticated user"}')
    server.routes["/@sarah.rss"] = static((FIX / "sarah.rss").read_bytes())


def test_spec_resolves_to_profile_with_configurable_scheme():
    assert resolve_spec("mastodon:@sarah@social.example").url == "https://social.example/@sarah"
    local = resolve_spec("mastodon:@sarah@127.0.0.1:8080", options=SourceOptions(mastodon_scheme="http"))
    assert (local.kind, local.url) == ("mastodon", "http://127.0.0.1:8080/@sarah")


def test_api_gives_boosts_media_and_only_public_or_unlisted(server, tmp_path):
    serve_instance(server)
    host = server.base.removeprefix("http://")
    cfg = make_config(tmp_path, {"Sarah Chen": [f"mastodon:@sarah@{host}"]}, HTTP)
    summary = run_ingest(cfg)
    assert (summary.sources_ok, summary.posts_new) == (1, 3)
    rows = {r[0]: r[1:] for r in query(cfg, "SELECT url, text, image, is_repost, lang FROM posts")}
    flat = rows["https://social.example/@sarah/1003"]
    assert flat[0] == "Got the keys to our new flat in Berlin today! photos & more soon"
    assert flat[1] == "https://files.social.example/media/flat.jpg" and flat[2] is False
    boost = rows["https://other.example/@tom/555"]
    assert boost[0] == "We are hiring two backend engineers in Shanghai." and boost[2] is True
    hike = rows["https://social.example/@sarah/1001"]
    assert hike[0].split() == ["周末去杭州爬山，", "天气很好。"] and hike[3] == "zh"
    assert not any("followers-only" in r[0] or "direct message" in r[0] for r in rows.values())
    lookup = server.hits("/api/v1/accounts/lookup")[0]
    assert lookup.path == "/api/v1/accounts/lookup?acct=sarah"
    assert server.hits("/api/v1/accounts/109876/statuses")[0].path.endswith("?exclude_replies=true&limit=40")
    assert source(cfg)["url"] == f"http://{host}/@sarah" and source(cfg)["etag"] == 'W/"s1"'

    again = run_ingest(cfg)  # conditional on the statuses request, nothing new
    assert (again.sources_not_modified, again.posts_new, again.posts_updated) == (1, 0, 0)
    assert server.hits("/api/v1/accounts/109876/statuses")[1].headers["if-none-match"] == 'W/"s1"'


def test_falls_back_to_rss_when_api_is_refused(server, tmp_path):
    serve_instance(server, api=False)
    host = server.base.removeprefix("http://")
    cfg = make_config(tmp_path, {"Sarah Chen": [f"mastodon:@sarah@{host}"]}, HTTP)
    summary = run_ingest(cfg)
    assert (summary.sources_ok, summary.posts_new) == (1, 2)
    texts = sorted(r[0] for r in query(cfg, "SELECT text FROM posts"))
    assert texts == ["Got the keys to our new flat in Berlin today!", "周末去杭州爬山，天气很好。"]
    assert len(server.hits("/@sarah.rss")) == 1
    assert source(cfg)["status"] == "ok"


def test_unknown_account_and_broken_api_fail_cleanly(server, tmp_path):
    server.routes["/api/v1/accounts/lookup"] = lambda req: Reply(200, b"<html>not json</html>")
    host = server.base.removeprefix("http://")
    cfg = make_config(tmp_path, {"Sarah Chen": [f"mastodon:@sarah@{host}"]}, HTTP)
    summary = run_ingest(cfg)
    assert summary.sources_failed == 1
    assert source(cfg)["last_error"] == "mastodon: account lookup did not return an account"
