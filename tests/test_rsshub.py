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
