"""Sending the digest to a real SMTP server on loopback, end to end through the CLI.

Feeds and images are served by a loopback HTTP server, `guanxi ingest` stores them, and
`guanxi digest --send` delivers to aiosmtpd; what arrived is parsed with the email package.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import stat
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import duckdb
import pytest

from connectors.http import referer_for
from guanxi.config import SmtpConfig
from reports.images import fetch_inline_images
from reports.mail import SendError, build_message, send_message
from tests.conftest import run_cli
from tests.loopback import LoopbackServer, Reply, static
from tests.pngtools import make_png
from tests.smtp_server import SmtpServer, free_port, make_cert

PNG = make_png(320, 160, (220, 120, 40))
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
PASSWORD = "s3cret-Päss-词"


def rss(items: list[dict]) -> str:
    now = datetime.now(timezone.utc)
    out = []
    for i, it in enumerate(items):
        enclosure = f'<enclosure url="{it["image"]}" type="image/png" length="1"/>' if it.get("image") else ""
        out.append(f"""<item><title>{it['title']}</title><link>{it['link']}</link>
<guid isPermaLink="false">{it['link']}#{i}</guid>
<pubDate>{format_datetime(now - timedelta(hours=2 + i))}</pubDate>
<description>{it.get('description', '')}</description>{enclosure}</item>""")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>feed</title><link>https://example.org/</link>
{''.join(out)}</channel></rss>"""


@pytest.fixture
def feeds():
    """Two colleagues (one Chinese), a hostile post, one good image, two that must be dropped."""
    with LoopbackServer() as srv:
        zhang = rss([{"title": "升职了！谢谢团队一直以来的支持", "link": "https://weibo.com/123/AbCd",
                      "description": "今天正式升职为数据平台负责人。", "image": srv.url("/img/ok.png")}])
        sarah = rss([
            {"title": "We shipped Lantern 2.0 to every customer today", "link": "https://techhub.example/@sarah/1",
             "description": "Eighteen months of work.", "image": srv.url("/img/missing.png")},
            {"title": "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; looking for advice",
             "link": "javascript:alert(4)",
             "description": "&lt;img src=x onerror=alert(2)&gt;&lt;a href='javascript:alert(3)'&gt;click&lt;/a&gt;",
             "image": srv.url("/img/not-an-image.png")},
        ])
        srv.routes.update({
            "/zhang.xml": static(zhang), "/sarah.xml": static(sarah), "/empty.xml": static(rss([])),
            "/img/ok.png": static(PNG, "image/png"),
            "/img/not-an-image.png": static(b"<html>403 Forbidden</html>", "image/png"),
            "/gone.xml": lambda req: Reply(404, b"gone"),
        })
        yield srv


def people_toml(srv: LoopbackServer) -> str:
    return f'''
[[people]]
name = "张伟"
feeds = ["{srv.url('/zhang.xml')}"]

[[people]]
name = "Sarah Chen"
feeds = ["{srv.url('/sarah.xml')}", "{srv.url('/gone.xml')}"]
'''


def setup(tmp_path: Path, feeds: LoopbackServer, smtp_toml: str, *, digest_extra: str = "",
          people: str | None = None) -> Path:
    cfg = tmp_path / "guanxi.toml"
    cfg.write_text(f'''
[store]
path = "store.duckdb"

[digest]
recipient = "王小明 <me@example.com>"
timezone = "Asia/Shanghai"
out_dir = "out"
{digest_extra}

{smtp_toml}
{people if people is not None else people_toml(feeds)}
''', encoding="utf-8")
    r = run_cli("--config", str(cfg), "ingest")
    assert r.code == 0, r.err
    return cfg


def ledger(tmp_path: Path) -> list[tuple]:
    con = duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True)
    try:
        return con.execute("SELECT status, message_id, last_error FROM digests ORDER BY rendered_at, status").fetchall()
    finally:
        con.close()


def test_send_over_plain_smtp_and_parse_what_arrived(tmp_path, feeds):
    with SmtpServer() as smtp:
        cfg = setup(tmp_path, feeds, smtp.smtp_toml(sender="关系助手 <guanxi@example.com>"))
        r = run_cli("--config", str(cfg), "digest", "--send")
        assert r.code == 0, r.err
        assert "mail: sent (1 inline image)" in r.err
        [raw], [msg] = smtp.sink.messages, smtp.sink.parsed()
    assert smtp.sink.envelopes == [("guanxi@example.com", ["me@example.com"])]
    # Headers: RFC 2047 encoded on the wire, Chinese once decoded.
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?utf-8?" in head.lower() and "关系" not in head
    assert re.fullmatch(r"Guanxi · \w{3} \d{1,2} \w{3} · 2 people to catch up with", msg["Subject"])
    assert msg["From"].addresses[0].display_name == "关系助手"
    assert msg["To"].addresses[0].display_name == "王小明"
    assert msg["To"].addresses[0].addr_spec == "me@example.com"
    assert re.fullmatch(r"<guanxi-\d{4}-\d\d-\d\d-[0-9a-f]{24}@example\.com>", msg["Message-ID"])
    # Structure: alternative(text, related(html, image)).
    assert msg.get_content_type() == "multipart/alternative"
    text_part, related = msg.get_payload()
    assert text_part.get_content_type() == "text/plain" and related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    text, html = text_part.get_content(), html_part.get_content()
    for part in (text, html):
        assert "张伟" in part and "Sarah Chen" in part and "升职了" in part
        assert "https://weibo.com/123/AbCd" in part and "https://techhub.example/@sarah/1" in part
    # The one real image is embedded and cited; the 404 and the HTML-as-PNG are left out.
    assert len(images) == 1 and images[0].get_content_type() == "image/png"
    assert images[0].get_content() == PNG
    cid = images[0]["Content-ID"].strip("<>")
    assert html.count("<img ") == 1 and f'src="cid:{cid}"' in html
    assert re.search(r'<img [^>]*width="96" height="48"', html) and 'alt="Image from 张伟' in html
    assert "127.0.0.1" not in html.split("Feeds needing attention")[0]  # nothing loads remotely
    # Hostile post: escaped text, no script, no javascript: link.
    assert "<script" not in html and "javascript:" not in html and "onerror=" not in html
    # Source health names the failing feed.
    assert "Feeds needing attention" in html and feeds.url("/gone.xml") in html
    [(status, mid, err)] = ledger(tmp_path)
    assert status == "sent" and mid == msg["Message-ID"] and err is None


def test_chinese_subject_when_digest_language_is_zh(tmp_path, feeds):
    with SmtpServer() as smtp:
        cfg = setup(tmp_path, feeds, smtp.smtp_toml(sender="guanxi@example.com"), digest_extra='language = "zh"')
        r = run_cli("--config", str(cfg), "digest", "--send")
        assert r.code == 0, r.err
        [msg] = smtp.sink.parsed()
    assert re.fullmatch(r"Guanxi · \d{1,2}月\d{1,2}日 周[一二三四五六日] · 2 位同事值得联系", msg["Subject"])
    assert msg["From"].addresses[0].display_name == "Guanxi"
    html = msg.get_payload()[1].get_payload()[0].get_content()
    assert '<html lang="zh-CN"' in html and "查看原帖" in html


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_and_tls_with_auth_and_a_private_ca(tmp_path, feeds, security):
    cert = make_cert(tmp_path)
    with SmtpServer(security=security, cert=cert, username="me", password=PASSWORD) as smtp:
        cfg = setup(tmp_path, feeds, smtp.smtp_toml(security, sender="guanxi@example.com", username="me",
                                                    ca_file=str(cert[0])))
        r = run_cli("--config", str(cfg), "digest", "--send", env={"GUANXI_SMTP_PASSWORD": PASSWORD})
        assert r.code == 0, r.err
        assert smtp.sink.logins == [("me", PASSWORD)]
        assert len(smtp.sink.messages) == 1
    assert PASSWORD not in r.out + r.err


def test_untrusted_certificate_fails_at_once_with_one_line(tmp_path, feeds):
    cert = make_cert(tmp_path)
    with SmtpServer(security="tls", cert=cert) as smtp:
        cfg = setup(tmp_path, feeds, smtp.smtp_toml("tls", sender="guanxi@example.com"))
        r = run_cli("--config", str(cfg), "digest", "--send")
    assert r.code == 1
    assert len(r.err.strip().splitlines()) == 1 and "CERTIFICATE_VERIFY_FAILED" in r.err
    assert "attempts" not in r.err  # a certificate problem is not retried


def test_wrong_password_is_permanent_and_never_printed(tmp_path, feeds):
    cert = make_cert(tmp_path)
    with SmtpServer(security="starttls", cert=cert, username="me", password="right") as smtp:
        cfg = setup(tmp_path, feeds, smtp.smtp_toml("starttls", sender="guanxi@example.com", username="me",
                                                    ca_file=str(cert[0])))
        r = run_cli("--config", str(cfg), "digest", "--send", env={"GUANXI_SMTP_PASSWORD": PASSWORD})
        assert len(smtp.sink.logins) == 1  # not retried
    assert r.code == 1 and len(r.err.strip().splitlines()) == 1
    assert "login as me refused (535)" in r.err and PASSWORD not in r.out + r.err
    assert ledger(tmp_path)[0][0] == "failed"


def test_smtp_down_one_line_file_kept_next_run_sends(tmp_path, feeds):
    port = free_port()  # nothing listens here yet
    smtp_toml = f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsender = "guanxi@example.com"\nretry_delay_s = 0\n'
    cfg = setup(tmp_path, feeds, smtp_toml)
    r = run_cli("--config", str(cfg), "digest", "--send")
    assert r.code == 1
    [line] = r.err.strip().splitlines()
    assert line.startswith(f"mail: could not send via 127.0.0.1:{port} after 4 attempts: ")
    assert "refused" in line.lower() and "the next run sends it" in line
    html_path = Path(re.search(r"digest saved at (\S+\.html)", line).group(1))
    assert html_path.exists() and html_path.with_suffix(".txt").exists()
    [(status, mid, err)] = ledger(tmp_path)
    assert status == "failed" and mid is None and "could not send" in err
    with SmtpServer(port=port) as smtp:
        r = run_cli("--config", str(cfg), "digest", "--send")
        assert r.code == 0, r.err
        assert len(smtp.sink.messages) == 1
    assert [row[0] for row in ledger(tmp_path)] == ["sent"]


def test_second_send_is_a_no_op_and_force_resends(tmp_path, feeds):
    with SmtpServer() as smtp:
        cfg = setup(tmp_path, feeds, smtp.smtp_toml(sender="guanxi@example.com"))
        assert run_cli("--config", str(cfg), "digest", "--send").code == 0
        r = run_cli("--config", str(cfg), "digest", "--send")
        assert r.code == 0 and "already sent" in r.err
        assert len(smtp.sink.messages) == 1
        r = run_cli("--config", str(cfg), "digest", "--send", "--force")
        assert r.code == 0 and "mail: sent" in r.err
        first, second = smtp.sink.parsed()
    assert first["Message-ID"] == second["Message-ID"]  # deterministic per date and recipient
    assert [row[0] for row in ledger(tmp_path)] == ["sent", "sent"]


def test_two_sends_started_together_deliver_once(tmp_path, feeds):
    """A scheduled run and a hand-typed send at the same instant: while the first is still in
    DATA with a slow relay, the second waits on the send lock, then finds the day sent."""
    with SmtpServer() as smtp:
        cfg = setup(tmp_path, feeds, smtp.smtp_toml(sender="guanxi@example.com"))
        smtp.sink.data_delay_s = 1.5
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(lambda _: run_cli("--config", str(cfg), "digest", "--send"), range(2)))
        assert [r.code for r in runs] == [0, 0], [r.err for r in runs]
        assert sorted("already sent" in r.err for r in runs) == [False, True]
        assert len(smtp.sink.messages) == 1
    assert [row[0] for row in ledger(tmp_path)] == ["sent"]


def test_a_send_gives_up_in_one_line_when_another_holds_the_send_lock(tmp_path):
    from guanxi.runlock import RunLocked, send_lock

    store_path = tmp_path / "store.duckdb"
    with send_lock(store_path, wait_s=1):
        started = time.monotonic()
        with pytest.raises(RunLocked) as exc:
            with send_lock(store_path, wait_s=0.3):
                pass
        assert 0.3 <= time.monotonic() - started < 5
    message = str(exc.value)
    assert "\n" not in message and message.startswith("mail: another send of this digest")
    assert f"(PID {os.getpid()})" in message
    with send_lock(store_path, wait_s=0):  # released: free again at once
        pass


def test_quiet_day_sends_a_short_note_or_nothing(tmp_path, feeds):
    quiet_people = f'[[people]]\nname = "Emily Walsh"\nfeeds = ["{feeds.url("/empty.xml")}"]\n'
    (tmp_path / "a").mkdir()
    with SmtpServer() as smtp:
        cfg = setup(tmp_path / "a", feeds, smtp.smtp_toml(sender="guanxi@example.com"), people=quiet_people)
        r = run_cli("--config", str(cfg), "digest", "--send")
        assert r.code == 0, r.err
        [msg] = smtp.sink.parsed()
        assert msg["Subject"].endswith("· a quiet day")
        assert "A quiet day" in msg.get_body(("plain",)).get_content()
    (tmp_path / "b").mkdir()
    with SmtpServer() as smtp:
        cfg = setup(tmp_path / "b", feeds, smtp.smtp_toml(sender="guanxi@example.com"),
                    digest_extra='quiet_day = "skip"', people=quiet_people)
        r = run_cli("--config", str(cfg), "digest", "--send")
        assert r.code == 0 and "quiet day, nothing sent" in r.err
        assert smtp.sink.messages == []
        assert Path(r.out.strip()).exists()  # still written to disk


def _message():
    from datetime import date
    return build_message(subject="Guanxi · 测试", html="<p>hi</p>", text="hi", sender="g@example.com",
                         recipient="me@example.com", day=date(2026, 11, 24))


def test_transient_4xx_is_retried_with_backoff_but_5xx_is_not():
    slept: list[float] = []
    with SmtpServer() as smtp:
        smtp.sink.rcpt_replies = ["451 4.3.0 try again later", "452 4.3.1 still busy"]
        cfg = SmtpConfig(host="127.0.0.1", port=smtp.port, retries=3, retry_delay_s=1.5)
        assert send_message(_message(), cfg, sleep=slept.append) == 3
        assert len(smtp.sink.messages) == 1 and slept == [1.5, 3.0]
    with SmtpServer() as smtp:
        smtp.sink.rcpt_replies = ["550 5.1.1 no such user"]
        with pytest.raises(SendError, match=r"^mail: sending via 127\.0\.0\.1:\d+ failed: recipient refused: 550"):
            send_message(_message(), SmtpConfig(host="127.0.0.1", port=smtp.port, retry_delay_s=0),
                         sleep=slept.append)
        assert smtp.sink.rcpt_calls == 1 and smtp.sink.messages == []


def test_images_are_fetched_with_the_platform_referer_and_size_cap():
    assert referer_for("https://wx3.sinaimg.cn/large/abc.jpg") == "https://weibo.com/"
    assert referer_for("https://mmbiz.qpic.cn/mmbiz_jpg/x/0") == "https://mp.weixin.qq.com/"
    assert referer_for("https://i0.hdslb.com/bfs/a.png") == "https://www.bilibili.com/"
    assert referer_for("https://sns-img-qc.xhscdn.com/x") == "https://www.xiaohongshu.com/"
    assert referer_for("https://notsinaimg.cn/x.jpg") is None and referer_for("https://example.org/a.png") is None

    def guarded(req):  # like sinaimg.cn: refuse without our platform's Referer
        if req.headers.get("referer") != "https://weibo.com/":
            return Reply(403, b"hotlinking refused", {"Content-Type": "text/html"})
        return Reply(200, PNG, {"Content-Type": "image/png"})

    big = make_png(2000, 2000, (1, 2, 3)) + b"\0" * 4096
    with LoopbackServer({"/guarded.png": guarded, "/big.png": static(big, "image/png")}) as srv:
        url = srv.url("/guarded.png")
        assert fetch_inline_images([url]) == {}  # no Referer for an unknown host: refused, omitted
        got = fetch_inline_images([url, url, None, "javascript:x"], referers={"127.0.0.1": "https://weibo.com/"})
        assert list(got) == [url] and got[url].data == PNG and (got[url].width, got[url].height) == (96, 48)
        assert fetch_inline_images([srv.url("/big.png")], max_bytes=len(big) - 1) == {}
        assert len(srv.hits("/guarded.png")) == 2  # the duplicate URL was fetched once


def test_digest_open_hands_the_file_to_the_browser(tmp_path, feeds):
    record = tmp_path / "opened.txt"
    browser = tmp_path / "fake-browser"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{record}"\n')
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    cfg = setup(tmp_path, feeds, "")
    r = run_cli("--config", str(cfg), "digest", "--open", env={"BROWSER": str(browser)})
    assert r.code == 0, r.err
    html_path = Path(r.out.strip())
    assert record.read_text() == html_path.resolve().as_uri()
    assert os.path.exists(html_path)


def test_smtp_config_options(tmp_path):
    from guanxi.config import ConfigError, load_config

    cfg = tmp_path / "guanxi.toml"
    cfg.write_text('[smtp]\nsecurity = "tls"\nca_file = "certs/ca.pem"\nretries = 0\nretry_delay_s = 0.5\n')
    smtp = load_config(str(cfg)).smtp
    assert (smtp.port, smtp.ca_file, smtp.retries, smtp.retry_delay_s) == (465, tmp_path / "certs/ca.pem", 0, 0.5)
    cfg.write_text("[smtp]\nretries = -1\n")
    with pytest.raises(ConfigError, match=r"smtp\.retries must not be negative"):
        load_config(str(cfg))
