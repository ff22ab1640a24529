"""RSSHub routes (`rsshub:/weibo/user/UID`, any route) read as feeds from `[rsshub] base_url`.

RSSHub renders Weibo, WeChat official accounts, Xiaohongshu, Bilibili, Zhihu and Douban as RSS
2.0 with RFC 822 dates in UTC+8 ("+0800"); the feed parser turns those into aware UTC times.
"""

from __future__ import annotations

from connectors.sources import FeedConnector, SourceOptions, SpecError


class RsshubConnector(FeedConnector):
    """Fetched and parsed exactly like a feed; only the spec differs."""

    kind = "rsshub"

    def resolve(self, value: str, spec: str, *, options: SourceOptions, base_dir: str | None) -> str:
        if not value.startswith("/"):
            raise SpecError(f"source: {spec!r}: expected rsshub:/route (e.g. rsshub:/weibo/user/123)")
        return options.rsshub_base_url.rstrip("/") + value


CONNECTOR = RsshubConnector()
