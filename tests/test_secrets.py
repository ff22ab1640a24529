"""Secrets (the SMTP password, a feed URL's user:password and query token) never reach the
store file, stdout/stderr, the written digests or Prefect's database of artefacts and logs."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli, write_config
from tests.loopback import LoopbackServer, Reply, static

SMTP_SECRET = "SMTPSENTINEL7f3a"
URL_PASSWORD = "URLPASSSENTINEL91c2"
URL_TOKEN = "TOKENSENTINEL5d8e"

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>private blog</title>
<item><guid>s1</guid><title>Got promoted today</title><link>https://example.org/p1</link>
<description>Thanks everyone, big news for the team.</description></item></channel></rss>"""


def all_bytes(folder: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in folder.rglob("*") if p.is_file()]


def test_secrets_stay_out_of_store_logs_digests_and_prefect(tmp_path: Path, server: LoopbackServer):
    server.routes["/private.xml"] = static(FEED, etag='"p1"')
    server.routes["/slow.xml"] = lambda req: Reply(200, FEED.encode(), delay_s=5)
    host = server.base.removeprefix("http://")
    good = f"http://reader:{URL_PASSWORD}@{host}/private.xml?token={URL_TOKEN}&page=1"
    slow = f"http://{host}/slow.xml?access_token={URL_TOKEN}"  # times out: its error names the URL
    people = f'[[people]]\nname = "Sam"\nfeeds = ["{good}", "{slow}"]\n'
    cfg = write_config(tmp_path, people, extra=f'[ingest]\ntimeout_s = 1\n\n[smtp]\nhost = "127.0.0.1"\n'
                                                f'port = 9\nusername = "me"\nsender = "g@example.com"\n')
    env = {"GUANXI_SMTP_PASSWORD": SMTP_SECRET, "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_API_URL": "", "PREFECT_LOGGING_LEVEL": "DEBUG"}
    outputs = []
    for args in (("ingest",), ("digest", "--no-send"), ("people", "list"), ("run", "--no-send"),
                 ("sql", "SELECT url, spec, last_error FROM sources")):
        r = run_cli("--config", str(cfg), *args, env=env, timeout=240)
        assert r.code == 0, (args, r.err)
        outputs.append((args, r.out + r.err))
    # The fetch itself used the real URL (credentials and token included) and stored the post.
    seen = server.hits("/private.xml")
    assert seen and "authorization" in seen[0].headers and URL_TOKEN in seen[0].path
    stored = run_cli("--config", str(cfg), "sql", "SELECT count(*) AS n FROM posts", "--format", "csv", env=env)
    assert stored.out.splitlines()[-1] == "1"
    assert "REDACTED" in outputs[-1][1] and "read timeout" in outputs[-1][1]
    files = all_bytes(tmp_path)
    assert any(p.suffix == ".duckdb" for p, _ in files) and any(p.suffix == ".html" for p, _ in files)
    assert (tmp_path / "prefect").is_dir()  # Prefect really ran and kept its database there
    for secret in (SMTP_SECRET, URL_PASSWORD, URL_TOKEN):
        for args, text in outputs:
            assert secret not in text, (secret, args)
        for path, data in files:
            if path.name == "guanxi.toml":
                continue  # the config file is where the user put the feed URL
            assert secret.encode() not in data, (secret, path)
