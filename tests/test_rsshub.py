"""RSSHub routes against a loopback RSSHub: Weibo-style feed with UTC+8 dates."""

from datetime import datetime, timezone
from pathlib import Path

from tests.ingest_helpers import make_config, query, run_ingest, source
from tests.loopback import static

FIX = Path(__file__).with_name("fixtures") / "rsshub"


def test_weibo_route_with_utc8_dates_stored_as_timestamptz(server, tmp_path):
    server.routes["/weibo/user/1234567890"] = static((FIX / "weibo.xml").read_bytes())
    cfg = make_config(tmp_path, {"王芳": ["rsshub:/weibo/user/1234567890"]},
                      f'[rsshub]\nbase_url = "{server.base}/"\n')
    summary = run_ingest(cfg)
    assert (summary.sources_ok, summary.posts_new) == (1, 2)
    assert source(cfg)["url"] == server.url("/weibo/user/1234567890")
    rows = dict(query(cfg, "SELECT url, published_at FROM posts"))
    # 23:30 +0800 on the 20th is 15:30 UTC the same day; 08:05 +0800 on the 19th is 00:05 UTC.
    assert rows["https://weibo.com/1234567890/NabcDef01"] == datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc)
    assert rows["https://weibo.com/1234567890/NabcDef00"] == datetime(2026, 11, 19, 0, 5, tzinfo=timezone.utc)
    local = query(cfg, "SELECT strftime(published_at AT TIME ZONE 'Asia/Shanghai', '%Y-%m-%d %H:%M') "
                       "FROM posts WHERE url LIKE '%01'")
    assert local == [("2026-11-20 23:30",)]
    assert query(cfg, "SELECT typeof(published_at) FROM posts LIMIT 1") == [("TIMESTAMP WITH TIME ZONE",)]
    texts = [r[0] for r in query(cfg, "SELECT text FROM posts ORDER BY published_at DESC")]
    assert texts[0] == "今天收到了offer，下个月入职新公司！"
    image = query(cfg, "SELECT image FROM posts WHERE url LIKE '%01'")[0][0]
    assert image == "https://wx1.sinaimg.cn/large/abc.jpg"


def weibo_item(n: int, description: str) -> str:
    return (f"<item><title>t{n}</title><description><![CDATA[{description}]]></description>"
            f"<link>https://weibo.com/1234567890/R{n}</link><guid>https://weibo.com/1234567890/R{n}</guid>"
            f"<pubDate>Fri, 2{n} Nov 2026 08:00:00 +0800</pubDate></item>")


def test_a_weibo_repost_without_words_of_ones_own_is_a_repost_and_a_commented_one_is_not(server, tmp_path):
    quoted = '<blockquote> - 转发 <a href="https://weibo.com/1">@上海徒步俱乐部</a>:&ensp;周六佘山穿越，报名见评论区。</blockquote>'
    items = [weibo_item(1, f"报名了！一起走的举个手。<br>{quoted}"),      # a comment: the poster's own post
             weibo_item(2, f"转发微博<br>{quoted}"),                      # Weibo's default words: a repost
             weibo_item(3, quoted),                                       # nothing at all: a repost
             weibo_item(4, "转发微博//@小王: 太好了//@老李: 同去"),         # a chain, nothing of one's own
             weibo_item(5, "今天的报告 - 欢迎转发给同事")]                  # the word alone is no repost
    server.routes["/weibo/user/1234567890"] = static(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>王芳的微博</title>'
        + "".join(items) + "</channel></rss>")
    cfg = make_config(tmp_path, {"王芳": ["rsshub:/weibo/user/1234567890"]},
                      f'[rsshub]\nbase_url = "{server.base}/"\n')
    assert run_ingest(cfg).posts_new == 5
    reposts = dict(query(cfg, "SELECT url, is_repost FROM posts"))
    assert {url[-2:]: flag for url, flag in reposts.items()} == {
        "R1": False, "R2": True, "R3": True, "R4": True, "R5": False}
