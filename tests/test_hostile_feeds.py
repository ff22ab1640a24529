"""Hostile feeds served over loopback in one real ingest run: each is stopped by a named limit,
the reason is recorded on its source, and a good feed in the same run is stored anyway."""

from __future__ import annotations

import zlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import brotli
import pytest

from connectors.feed import FeedError, parse_feed
from connectors.xmlsafety import check_xml
from tests.conftest import PEER_CORPUS
from tests.ingest_helpers import make_config, query, run_ingest
from tests.loopback import LoopbackServer, Reply, static

GOOD = """<?xml version="1.0"?><rss version="2.0"><channel><title>good</title>
<item><guid>g1</guid><title>Still here</title><description>A good post survives the rest.</description>
<pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate></item></channel></rss>"""
ITEM = "<item><guid>x</guid><title>t</title><description>&a9;</description></item>"


def rss(doctype: str, item: str = "<item><guid>1</guid><title>hi</title></item>") -> str:
    return f'<?xml version="1.0"?>\n{doctype}\n<rss version="2.0"><channel><title>t</title>{item}</channel></rss>'


def billion_laughs() -> str:
    ents = ['<!ENTITY a0 "lol">'] + [f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    return rss(f"<!DOCTYPE rss [{''.join(ents)}]>", ITEM)


def quadratic() -> str:
    big = "x" * 100_000
    return rss(f'<!DOCTYPE rss [<!ENTITY big "{big}">]>',
               "<item><guid>q</guid><title>q</title><description>" + "&big;" * 20_000 + "</description></item>")


def xml_cases(dtd_url: str) -> dict[str, tuple[str, str]]:
    """route -> (document, the error its source must record)."""
    return {
        "/laughs.xml": (billion_laughs(), "declares XML entities"),
        "/quadratic.xml": (quadratic(), "declares XML entities"),
        "/xxe-file.xml": (rss('<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
                              "<item><guid>1</guid><title>&x;</title></item>"), "declares XML entities"),
        "/xxe-http.xml": (rss(f'<!DOCTYPE rss [<!ENTITY x SYSTEM "{dtd_url}">]>',
                              "<item><guid>1</guid><title>&x;</title></item>"), "declares XML entities"),
        "/param.xml": (rss(f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{dtd_url}"> %p;]>'), "declares XML entities"),
        "/ext-dtd.xml": (rss(f'<!DOCTYPE rss SYSTEM "{dtd_url}">'), "references an external DTD"),
        "/unknown-public.xml": (rss(f'<!DOCTYPE rss PUBLIC "-//Evil//DTD x//EN" "{dtd_url}">'),
                                "unknown external DTD"),
        "/utf16.xml": (billion_laughs().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>'),
                       "declares XML entities"),
    }


def test_xml_attacks_are_refused_and_nothing_is_fetched(tmp_path, server: LoopbackServer):
    dtd_url = server.url("/evil.dtd")
    server.routes["/evil.dtd"] = static('<!ENTITY x "pwned">', "application/xml-dtd")
    cases = xml_cases(dtd_url)
    for route, (doc, _) in cases.items():
        body = doc.encode("utf-16") if route == "/utf16.xml" else doc.encode()
        server.routes[route] = static(body, "application/rss+xml")
    # A harmless, well-known DOCTYPE whose system URL points at our loopback: it parses, unfetched.
    netscape = rss(f'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "{dtd_url}">',
                   "<item><guid>n</guid><title>Netscape DOCTYPE is fine</title></item>")
    server.routes["/netscape.xml"] = static(netscape)
    server.routes["/good.xml"] = static(GOOD)
    people = {"Mallory": [server.url(r) for r in cases], "Nina": [server.url("/netscape.xml")],
              "Good": [server.url("/good.xml")]}
    summary = run_ingest(make_config(tmp_path, people))
    assert summary.sources_failed == len(cases) and summary.sources_ok == 2
    rows = dict(query(make_config(tmp_path, people), "SELECT url, last_error FROM sources WHERE status = 'failed'"))
    for route, (_, needle) in cases.items():
        err = rows[server.url(route)]
        assert err.startswith("parse: refused:") and needle in err and "\n" not in err, (route, err)
    titles = {r[0] for r in query(make_config(tmp_path, people), "SELECT title FROM posts")}
    assert titles == {"Netscape DOCTYPE is fine", "Still here"}
    assert server.hits("/evil.dtd") == []  # no DTD or entity was ever fetched


def test_peer_corpus_doctypes_still_parse():
    netscape = PEER_CORPUS / "wellformed" / "rss" / "rss_version_091_netscape.xml"
    if not netscape.exists():
        pytest.skip("peer corpus not present")
    check_xml(netscape.read_bytes())
    parse_feed(netscape.read_bytes())  # the file has no items; it must simply parse
    with pytest.raises(FeedError, match="^parse: refused"):
        parse_feed((PEER_CORPUS / "wellformed" / "rss" / "entity_in_doctype.xml").read_bytes())


def gzip_bomb(size: int) -> bytes:
    """`size` bytes of spaces gzipped, built in 1 MiB steps so the test itself stays small."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * 2**20
    return b"".join([z.compress(block) for _ in range(size // 2**20)] + [z.flush()])


def brotli_bomb(size: int) -> bytes:
    c = brotli.Compressor(quality=5)
    block = b" " * 2**20
    return b"".join([c.process(block) for _ in range(size // 2**20)] + [c.finish()])


def chunked(body: bytes, size: int = 65536) -> bytes:
    """HTTP/1.1 chunked framing, so the response declares no length at all."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def redirect(to: str, status: int = 302):
    return lambda req: Reply(status, b"", {"Location": to})


def test_resource_limits_each_stop_one_feed_and_the_run_goes_on(tmp_path, server: LoopbackServer):
    cap = 2 * 2**20
    big = b"<rss>" + b"x" * (cap + 10)
    gz, br = gzip_bomb(200 * 2**20), brotli_bomb(200 * 2**20)  # built once, before serving
    server.routes.update({
        "/big-declared.xml": static(big),
        "/big-chunked.xml": lambda req: Reply(200, chunked(big), {"Content-Type": "application/rss+xml",
                                                                  "Content-Length": None,
                                                                  "Transfer-Encoding": "chunked"}),
        "/gzip-bomb.xml": lambda req: Reply(200, gz, {"Content-Encoding": "gzip"}),
        "/br-bomb.xml": lambda req: Reply(200, br,
                                          {"Content-Encoding": "br"}),
        "/slow-drip.xml": lambda req: Reply(200, GOOD.encode() * 40, drip_s=0.3, chunk=64),
        "/hang.xml": lambda req: Reply(200, GOOD.encode(), delay_s=6),
        "/loop-a": redirect("/loop-b"), "/loop-b": redirect("/loop-a"),
        "/to-file": redirect("file:///etc/passwd"),
        "/to-ftp": redirect("ftp://127.0.0.1/feed.xml"),
        "/to-js": redirect("javascript:alert(1)"),
        "/good.xml": static(GOOD),
    })
    for i in range(11):
        server.routes[f"/chain{i}"] = redirect(f"/chain{i + 1}")
    server.routes["/chain11"] = static(GOOD)
    expected = {
        "/big-declared.xml": f"exceeds the {cap}-byte cap",
        "/big-chunked.xml": f"body exceeds the {cap}-byte cap",
        "/gzip-bomb.xml": f"body exceeds the {cap}-byte cap",
        "/br-bomb.xml": f"body exceeds the {cap}-byte cap",
        "/slow-drip.xml": "(total deadline)",
        "/hang.xml": "read timeout",
        "/loop-a": "more than 10 redirects",
        "/chain0": "more than 10 redirects",
        "/to-file": "refused non-http(s) URL file:",
        "/to-ftp": "refused non-http(s) URL ftp:",
        "/to-js": "refused non-http(s) URL javascript:",
    }
    people = {"Mallory": [server.url(r) for r in expected], "Good": [server.url("/good.xml")]}
    # timeout_s sets the read timeout; the total deadline is max(3x, +10 s) of it.
    cfg = make_config(tmp_path, people, extra=f"[ingest]\ntimeout_s = 2\nmax_body_bytes = {cap}\n")
    summary = run_ingest(cfg)
    assert summary.sources_ok == 1 and summary.sources_failed == len(expected)
    rows = dict(query(cfg, "SELECT url, last_error FROM sources WHERE status = 'failed'"))
    for route, needle in expected.items():
        err = rows[server.url(route)]
        assert err.startswith("fetch:") and needle in err and "\n" not in err, (route, err)
    assert [r[0] for r in query(cfg, "SELECT title FROM posts")] == ["Still here"]
    assert len(server.hits("/chain10")) == 1 and server.hits("/chain11") == []


def huge_feed(n: int) -> bytes:
    items = "".join(f"<item><guid>e{i}</guid><title>entry {i}</title>"
                    f"<pubDate>{(i % 28) + 1:02d} Oct 2026 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} GMT</pubDate>"
                    "</item>" for i in range(n))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>huge</title>{items}</channel></rss>'.encode()


PEAK_RSS_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    from guanxi.config import load_config
    from guanxi.ingest import ingest
    s = ingest(load_config(sys.argv[1]), say=lambda m: print(m, file=sys.stderr))
    # Linux carries ru_maxrss over fork+exec from the (big) pytest parent; VmHWM is this
    # program's own peak. Both are reported; the smaller is this process's true figure.
    hwm = next((int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")), None)
    rusage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ok": s.sources_ok, "failed": s.sources_failed, "new": s.posts_new,
                      "peak_mb": min(rusage, hwm or rusage) / 1024, "ru_maxrss_mb": rusage / 1024}))
""")


def test_huge_feed_is_capped_and_memory_stays_bounded(tmp_path, server: LoopbackServer):
    n = 50_000
    server.routes["/huge.xml"] = static(huge_feed(n))
    gz = gzip_bomb(500 * 2**20)
    server.routes["/gzip-bomb.xml"] = lambda req: Reply(200, gz, {"Content-Encoding": "gzip"})
    server.routes["/good.xml"] = static(GOOD)
    cfg = make_config(tmp_path, {"Huge": [server.url("/huge.xml"), server.url("/gzip-bomb.xml")],
                                 "Good": [server.url("/good.xml")]})
    p = subprocess.run([sys.executable, "-c", PEAK_RSS_SCRIPT, str(cfg)], capture_output=True, text=True,
                       timeout=300, cwd=Path(__file__).resolve().parent.parent)
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout.strip().splitlines()[-1])
    assert result["ok"] == 2 and result["failed"] == 1 and result["new"] == 500 + 1
    assert result["peak_mb"] < 400, result
    assert f"kept the newest 500 of {n} entries" in p.stderr
    note, = query(cfg, "SELECT last_note FROM sources WHERE url LIKE '%huge.xml'")[0]
    assert note == f"limit: kept the newest 500 of {n} entries ([ingest] max_entries_per_feed)"
    newest = query(cfg, "SELECT min(published_at), max(published_at) FROM posts WHERE title LIKE 'entry %'")[0]
    all_dates = query(cfg, "SELECT 1")  # noqa: F841 - the store opened cleanly
    # The 500 kept are the newest: none older than the 500th-newest date in the feed.
    from connectors.feed import parse_feed as pf

    _m, entries = pf(huge_feed(n))
    cutoff = sorted((e.published_at for e in entries), reverse=True)[499]
    assert newest[0] >= cutoff
