"""The shared fetcher against a real HTTP server on 127.0.0.1."""

import gzip

import brotli
import pytest

from connectors.http import FetchLimits, FetchRequest, env_proxies, parse_retry_after, proxy_for, run_fetches
from tests.loopback import Reply, static

RSS = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


def fetch(url, limits=FetchLimits(), **kw):
    return run_fetches([FetchRequest(url, **kw)], limits)[0]


def test_plain_get_and_conditional_304(server):
    server.routes["/f"] = static(RSS, etag='"v1"', last_modified="Sat, 21 Nov 2026 10:00:00 GMT")
    first = fetch(server.url("/f"))
    assert first.ok and first.body == RSS and first.headers["etag"] == '"v1"'
    again = fetch(server.url("/f"), etag='"v1"', last_modified="Sat, 21 Nov 2026 10:00:00 GMT")
    assert again.not_modified and again.status_code == 304 and again.body is None
    assert server.hits("/f")[1].headers["if-none-match"] == '"v1"'
    assert server.hits("/f")[1].headers["if-modified-since"] == "Sat, 21 Nov 2026 10:00:00 GMT"


def test_header_bytes_that_are_not_utf8_read_as_latin1(server):
    """No lone surrogates reach a FetchResult: the store could not write such an ETag."""
    server.routes["/u"] = static(RSS, etag='"\u00e9t\u00e9"', content_type="text/xml")  # sent as Latin-1
    assert fetch(server.url("/u")).headers["etag"] == '"\u00e9t\u00e9"'


def test_bodiless_answers_keep_their_connection(server):
    """A 304, a redirect or an error page leaves its keep-alive connection reusable (an unread
    response would close it, and a warm re-check would open one connection per feed)."""
    server.routes["/f"] = static(RSS, etag='"v1"')
    server.routes["/moved"] = lambda req: Reply(302, b"see /f", {"Location": "/f"})
    server.routes["/err"] = lambda req: Reply(500, b"oops")
    requests = [FetchRequest(server.url("/f"), etag='"v1"') for _ in range(4)]
    requests += [FetchRequest(server.url("/moved"), etag='"v1"'), FetchRequest(server.url("/err"))]
    results = run_fetches(requests, FetchLimits(concurrency=1, per_host=1))
    assert [r.status_code for r in results] == [304] * 5 + [500]
    assert len(server.seen) == 7 and len({s.client for s in server.seen}) == 1


@pytest.mark.parametrize("encoding, pack", [("gzip", gzip.compress), ("br", brotli.compress)])
def test_compressed_bodies(server, encoding, pack):
    server.routes["/z"] = lambda req: Reply(200, pack(RSS), {"Content-Encoding": encoding})
    res = fetch(server.url("/z"))
    assert res.body == RSS
    assert "gzip" in server.hits("/z")[0].headers["accept-encoding"]


def test_decompression_bomb_stops_at_cap(server):
    bomb = gzip.compress(b"\0" * (50 * 2**20))  # 50 MiB of zeros in ~50 KiB
    server.routes["/bomb"] = lambda req: Reply(200, bomb, {"Content-Encoding": "gzip"})
    res = fetch(server.url("/bomb"), FetchLimits(max_bytes=2**20))
    assert not res.ok and "exceeds the 1048576-byte cap" in res.error


def test_declared_and_streamed_size_caps(server):
    server.routes["/big"] = lambda req: Reply(200, b"x" * 300_000)
    res = fetch(server.url("/big"), FetchLimits(max_bytes=100_000))
    assert res.error.startswith("fetch: body of 300000 bytes exceeds")


def test_redirects_permanent_temporary_and_loops(server):
    server.routes["/old"] = lambda req: Reply(301, headers={"Location": "/new"})
    server.routes["/new"] = static(RSS)
    server.routes["/tmp"] = lambda req: Reply(302, headers={"Location": "/new"})
    server.routes["/loop"] = lambda req: Reply(307, headers={"Location": "/loop"})
    server.routes["/js"] = lambda req: Reply(301, headers={"Location": "javascript:alert(1)"})
    moved = fetch(server.url("/old"))
    assert moved.ok and moved.final_url == server.url("/new") and moved.permanent_redirect
    temp = fetch(server.url("/tmp"))
    assert temp.ok and not temp.permanent_redirect
    loop = fetch(server.url("/loop"))
    assert loop.error == "fetch: more than 10 redirects"
    assert len(server.hits("/loop")) == 11
    js = fetch(server.url("/js"))
    assert not js.ok and js.error == "fetch: refused non-http(s) URL javascript:alert(1)"
    server.routes["/bad"] = lambda req: Reply(302, headers={"Location": "http://[::1/feed"})
    assert fetch(server.url("/bad")).error == "fetch: InvalidURL: Invalid IPv6 URL"
    server.routes["/ftp"] = lambda req: Reply(302, headers={"Location": "ftp://127.0.0.1/feed"})
    assert fetch(server.url("/ftp")).error == "fetch: refused non-http(s) URL ftp://127.0.0.1/feed"


def test_cookies_are_kept_per_host_for_the_run_only(server):
    """A feed that sets a cookie and redirects to where it checks it works (docs/ingestion.md);
    the cookie goes back only to the host that set it, and a new run starts without it."""
    local = server.url("/gate").replace("127.0.0.1", "localhost")  # aiohttp keeps no cookies for IP hosts
    server.routes["/gate"] = lambda req: Reply(302, headers={"Location": "/feed", "Set-Cookie": "seen=1; Path=/"})
    server.routes["/feed"] = lambda req: (Reply(200, RSS) if "seen=1" in req.headers.get("cookie", "")
                                          else Reply(403, b"no cookie"))
    other = server.url("/other")
    server.routes["/other"] = static(RSS)
    first, elsewhere = run_fetches([FetchRequest(local), FetchRequest(other)], FetchLimits(concurrency=1))
    assert first.ok and first.body == RSS
    assert elsewhere.ok and all("cookie" not in s.headers for s in server.hits("/other"))
    assert fetch(local.replace("/gate", "/feed")).status_code == 403  # the next run has no cookie


def test_status_errors_and_retry_after(server):
    server.routes["/gone"] = lambda req: Reply(410, b"gone")
    server.routes["/busy"] = lambda req: Reply(429, b"", {"Retry-After": "120"})
    assert fetch(server.url("/gone")).status_code == 410
    busy = fetch(server.url("/busy"))
    assert busy.error == "fetch: HTTP 429 Too Many Requests" and busy.retry_after_s == 120


def test_timeouts_are_bounded(server):
    server.routes["/hang"] = lambda req: Reply(200, RSS, delay_s=3)
    server.routes["/drip"] = lambda req: Reply(200, b"x" * 4000, chunk=100, drip_s=0.2)
    res = fetch(server.url("/hang"), FetchLimits(read_s=0.5, total_s=5))
    assert res.error == f"fetch: read timeout at {server.url('/hang')}"
    drip = fetch(server.url("/drip"), FetchLimits(read_s=5, total_s=1))
    assert drip.error == "fetch: gave up after 1 s (total deadline)" and drip.elapsed_s < 3


def test_waiting_for_a_host_slot_does_not_count_against_the_total_deadline(server):
    """With one request at a time per host, the third of three 0.5 s answers waits 1 s for its
    turn: only its own exchange counts towards the 1.2 s deadline, so none gives up (counted
    from the start it would take 1.5 s; the margins leave room for a busy machine)."""
    server.routes["/slow"] = lambda req: Reply(200, RSS, delay_s=0.5)
    results = run_fetches([FetchRequest(server.url("/slow")) for _ in range(3)],
                          FetchLimits(per_host=1, read_s=5, total_s=1.2))
    assert [r.error for r in results] == [None] * 3 and len(server.hits("/slow")) == 3


def test_connection_refused_is_data_not_exception():
    res = fetch("http://127.0.0.1:9/feed")
    assert not res.ok and res.error.startswith("fetch: ConnectError")


def test_parse_retry_after_date():
    assert parse_retry_after("Sun, 22 Nov 2026 10:00:30 GMT", now=1795341600.0) == 30.0
    assert parse_retry_after("soon") is None


def self_signed(tmp_path, host="127.0.0.1"):
    """A certificate for `host` (an IP address or a DNS name) signed by itself: (cert file, key
    file, PEM text)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([alt]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / "cert.pem").write_bytes(pem)
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return tmp_path / "cert.pem", tmp_path / "key.pem", pem.decode()


def test_https_verifies_certificates_with_the_one_tls_context(tmp_path, monkeypatch):
    """An unknown certificate fails the fetch; once the process's TLS context trusts it, the
    same fetch succeeds, so that context (and no other) is what https requests use."""
    import ssl

    import connectors.http as http
    from tests.loopback import LoopbackServer

    cert, key, pem = self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    with LoopbackServer({"/f": static(RSS)}).use_tls(server_ctx) as srv:
        refused = fetch(srv.url("/f"))
        assert refused.error.startswith("fetch: ConnectError") and "CERTIFICATE_VERIFY_FAILED" in refused.error
        assert http.tls_context() is http.tls_context()
        assert http.tls_context().verify_mode == ssl.CERT_REQUIRED and http.tls_context().check_hostname
        trusting = ssl.create_default_context(cadata=pem)
        monkeypatch.setattr(http, "_TLS", [trusting])
        assert fetch(srv.url("/f")).body == RSS


def test_a_proxy_from_the_environment_carries_the_request_but_never_a_loopback_one(server, monkeypatch):
    """The loopback server stands in for the proxy: a proxied request names the whole URL
    (`GET http://feeds.example/feed.xml`), which it answers itself; nothing leaves the machine."""
    server.routes["http://feeds.example/feed.xml"] = lambda req: Reply(200, RSS, {"ETag": '"p1"'})
    server.routes["/local.xml"] = lambda req: Reply(200, RSS)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # the lower-case one wins
    monkeypatch.setenv("http_proxy", server.base)
    via = fetch("http://feeds.example/feed.xml")
    assert via.error is None and via.body == RSS and via.headers["etag"] == '"p1"'
    assert len(server.hits("http://feeds.example/feed.xml")) == 1
    local = fetch(server.url("/local.xml"))  # loopback is always reached directly
    assert local.error is None and [s.path for s in server.hits("/local.xml")] == ["/local.xml"]


def test_https_through_a_proxy_goes_by_connect_tunnel_with_its_credentials(tmp_path, monkeypatch):
    """https through an HTTP proxy: the fetcher asks the proxy for a CONNECT tunnel to the feed's
    host (credentials from the proxy URL sent as Proxy-Authorization, never to the feed), then
    speaks TLS through it and verifies the feed host's own certificate. The loopback tunnel leads
    to a loopback https server holding a certificate for feeds.example."""
    import base64
    import ssl

    import connectors.http as http
    from tests.loopback import LoopbackServer, TunnelProxy

    cert, key, pem = self_signed(tmp_path, "feeds.example")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    monkeypatch.setattr(http, "_TLS", [ssl.create_default_context(cadata=pem)])
    auth = "Basic " + base64.b64encode(b"wei:s3cret").decode()
    with LoopbackServer({"/feed.xml": static(RSS, etag='"t1"')}).use_tls(server_ctx) as feed, \
            TunnelProxy(("127.0.0.1", int(feed.base.rsplit(":", 1)[1])), require=auth) as proxy:
        monkeypatch.setenv("https_proxy", proxy.url.replace("://", "://wei:s3cret@"))
        via = fetch("https://feeds.example/feed.xml", FetchLimits(connect_s=5, total_s=10))
        assert via.error is None and via.body == RSS and via.headers["etag"] == '"t1"', via.error
        assert [target for target, _ in proxy.seen] == ["feeds.example:443"]
        assert proxy.seen[0][1]["proxy-authorization"] == auth
        (hit,) = feed.hits("/feed.xml")
        assert hit.headers["host"] == "feeds.example" and "proxy-authorization" not in hit.headers

        monkeypatch.setenv("https_proxy", proxy.url.replace("://", "://wei:wrong@"))
        refused = fetch("https://feeds.example/feed.xml", FetchLimits(connect_s=5, total_s=10))
        assert refused.error and refused.error.startswith("fetch: ") and "407" in refused.error, refused.error
        assert "wrong" not in refused.error and "\n" not in refused.error
        assert len(feed.hits("/feed.xml")) == 1  # the refused tunnel never reached the feed


def test_no_proxy_and_unsupported_proxies_mean_a_direct_connection():
    proxies = env_proxies({"https_proxy": "http://proxy.corp:3128", "NO_PROXY": "intranet.example,.corp.example"})
    assert proxy_for("https://mastodon.example/@wei.rss", proxies) == "http://proxy.corp:3128"
    assert proxy_for("https://intranet.example/feed", proxies) is None
    assert proxy_for("https://rss.corp.example/feed", proxies) is None
    assert proxy_for("http://mastodon.example/@wei.rss", proxies) is None  # none set for http
    assert proxy_for("https://[::1]:8443/feed", proxies) is None
    assert proxy_for("http://a.example/", env_proxies({"http_proxy": "socks5://127.0.0.1:1080"})) is None
    assert env_proxies({"PATH": "/bin"}) == {}


def test_a_proxy_that_cannot_be_reached_fails_the_source_without_its_password(monkeypatch):
    monkeypatch.setenv("https_proxy", "http://wei:s3cret@127.0.0.1:9")
    res = fetch("https://feeds.example/feed.xml", FetchLimits(connect_s=2, total_s=5))
    assert res.error and res.error.startswith("fetch: ") and "s3cret" not in res.error, res.error
    from connectors.http import _one_line

    assert _one_line(ValueError("407 from http://wei:s3cret@proxy.corp:3128/ (auth)")) == \
        "407 from http://***@proxy.corp:3128/ (auth)"
