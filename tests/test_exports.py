"""Tests for connectors.exports: every format from folder and zip, identity, privacy, hostile input."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import stat
import struct
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import exports
from connectors.exports import AS_PUBLIC, ExportError, _fix_mojibake, read_export
from guanxi.models import Batch

FIXTURES = Path(__file__).parent / "fixtures" / "exports"
MB = 2**20

# fixture folder -> (expected guids in order, skipped_private)
EXPECTED: dict[str, tuple[list[str], int]] = {
    "twitter": ([
        "x:1765001234567890123", "x:1764800000000000001", "x:1764500000000000002",
        "x:1764200000000000003", "x:1700000000000000004", "x:1600000000000000005",
    ], 0),
    "mastodon": ([
        "https://mastodon.social/users/lihua/statuses/112000000000000001",
        "https://mastodon.social/users/lihua/statuses/111900000000000002",
        "https://mastodon.social/users/lihua/statuses/111600000000000005/activity",
        "https://mastodon.social/users/lihua/statuses/111500000000000006",
    ], 2),
    "linkedin": ([
        "linkedin:urn:li:share:7170912345678901234",
        "linkedin:urn:li:ugcPost:7165000000000000001",
        "linkedin:urn:li:share:7136000000000000004",
    ], 2),
    "facebook": ([
        "facebook:1709626365:87822d09d685f31e",
        "facebook:1709000000:a73dc7a37247c7f2",
        "facebook:1707000000:6cf6e8017437c246",
    ], 0),
    "facebook_legacy": (["facebook:1609459200:1937bd93d97250ff", "facebook:1600000000:d1985327343cb5f3"], 0),
    "import_csv": (["import:blog-42", "import:wechat-7"], 1),
    "import_jsonl": (["import:talk-1", "import:2"], 1),
}


def zip_folder(src: Path, dest: Path, prefix: str = "") -> Path:
    """Zip every file under `src` (arcnames relative, optionally under `prefix`)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(p for p in src.rglob("*") if p.is_file()):
            zf.write(file, prefix + file.relative_to(src).as_posix())
    return dest


def copy_fixture(name: str, tmp_path: Path) -> Path:
    """A writable copy of a fixture folder."""
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def by_guid(batch: Batch) -> dict[str | None, object]:
    """Entries keyed by guid."""
    return {e.guid: e for e in batch.entries}


def raises_export(path: Path | str, pattern: str, **limits: int) -> ExportError:
    """Assert read_export fails with a one-line ExportError whose message matches `pattern`."""
    with pytest.raises(ExportError) as info:
        read_export(path, **limits)
    message = str(info.value)
    assert message.startswith("export: ") and "\n" not in message, message
    assert re.search(pattern, message), message
    return info.value


# --------------------------------------------------------------------------------------------
# Every format, as a folder and as a zip.
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_format_reads_from_folder_and_zip_identically(name: str, tmp_path: Path) -> None:
    guids, private = EXPECTED[name]
    folder = read_export(FIXTURES / name)
    zipped = read_export(zip_folder(FIXTURES / name, tmp_path / f"{name}.zip"))
    assert folder.status == "ok" and folder.error is None
    assert [e.guid for e in folder.entries] == guids
    assert folder.skipped_private == private
    assert folder.entries == zipped.entries and folder.skipped_private == zipped.skipped_private
    assert folder.meta == zipped.meta
    for entry in folder.entries:
        assert entry.visibility == "public"
        assert entry.published_at is not None and entry.published_at.utcoffset().total_seconds() == 0
        assert entry.published_at.tzinfo is timezone.utc


def test_zip_with_wrapper_folder_and_macos_litter(tmp_path: Path) -> None:
    archive = zip_folder(FIXTURES / "twitter", tmp_path / "twitter.zip", prefix="twitter-2024-03-07-abc/")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("__MACOSX/twitter-2024-03-07-abc/data/._tweets.js", b"\x00\x05\x16\x07 junk")
    batch = read_export(archive)
    assert [e.guid for e in batch.entries] == EXPECTED["twitter"][0]
    assert batch.meta.link == "https://x.com/lihua_dev"


def test_path_may_be_str(tmp_path: Path) -> None:
    assert read_export(str(FIXTURES / "linkedin")).status == "ok"


# --------------------------------------------------------------------------------------------
# Per-platform details.
# --------------------------------------------------------------------------------------------


def test_twitter_links_media_reposts_and_escapes() -> None:
    entries = by_guid(read_export(FIXTURES / "twitter"))
    zh = entries["x:1765001234567890123"]
    assert zh.text.endswith("https://duckdb.org/2024/03/01/vectorized-execution.html")
    assert "t.co" not in zh.text and zh.lang == "zh" and not zh.is_repost
    assert zh.url == "https://x.com/lihua_dev/status/1765001234567890123"
    assert zh.author == "Li Hua 李华"
    assert zh.published_at == datetime(2024, 3, 5, 8, 12, 45, tzinfo=timezone.utc)
    photo = entries["x:1764800000000000001"]
    assert photo.image == "https://pbs.twimg.com/media/GH12abcXYZ.jpg"
    assert photo.text == "Team offsite in Hangzhou 🍵 tea fields, long walks & no laptops"
    assert entries["x:1764500000000000002"].is_repost
    assert entries["x:1764200000000000003"].text.endswith("I'll bring the slides <3")
    assert entries["x:1600000000000000005"].lang is None  # "und"


def test_twitter_single_file_without_account_uses_i_web() -> None:
    batch = read_export(FIXTURES / "twitter" / "data" / "tweets.js")
    assert [e.guid for e in batch.entries] == EXPECTED["twitter"][0][:4]
    assert batch.entries[0].url == "https://x.com/i/web/status/1765001234567890123"


def test_twitter_odd_username_is_not_put_into_urls(tmp_path: Path) -> None:
    folder = copy_fixture("twitter", tmp_path)
    account = folder / "data" / "account.js"
    account.write_text(account.read_text(encoding="utf-8").replace('"lihua_dev"', '"../evil?x="'), encoding="utf-8")
    batch = read_export(folder)
    assert batch.entries[0].url == "https://x.com/i/web/status/1765001234567890123"
    assert batch.meta.link is None and batch.entries[0].author == "Li Hua 李华"


def test_twitter_protected_account_is_skipped_and_counted(tmp_path: Path) -> None:
    folder = copy_fixture("twitter", tmp_path)
    history = [{"protectedHistory": {"protectedAt": "2020-01-01T00:00:00.000Z", "action": "Protect"}},
               {"protectedHistory": {"protectedAt": "2021-01-01T00:00:00.000Z", "action": "Unprotect"}},
               {"protectedHistory": {"protectedAt": "2023-06-01T00:00:00.000Z", "action": "Protect"}}]
    (folder / "data" / "protected-history.js").write_text(
        "window.YTD.protected_history.part0 = " + json.dumps(history), encoding="utf-8")
    batch = read_export(folder)
    assert batch.entries == [] and batch.skipped_private == 6


def test_mastodon_visibility_boosts_and_html() -> None:
    batch = read_export(FIXTURES / "mastodon")
    entries = by_guid(batch)
    public = entries["https://mastodon.social/users/lihua/statuses/112000000000000001"]
    assert public.text == "周末去了#杭州的龙井茶园，强烈推荐！\n\n下次一起去？"
    assert public.html is not None and public.html.startswith("<p>")
    assert public.lang == "zh" and public.url == "https://mastodon.social/@lihua/112000000000000001"
    assert public.image and public.image.endswith("/tea.jpg")
    unlisted = entries["https://mastodon.social/users/lihua/statuses/111900000000000002"]
    assert unlisted.text == "Wrote up how we load RSS into DuckDB:\nhttps://blog.example.com/rss-duckdb"
    assert unlisted.image is None  # archive-relative media path is not a usable URL
    boost = entries["https://mastodon.social/users/lihua/statuses/111600000000000005/activity"]
    assert boost.is_repost and boost.url == "https://fosstodon.org/users/duckdb/statuses/111599999999999999"
    assert entries["https://mastodon.social/users/lihua/statuses/111500000000000006"].title == "Tabs vs spaces"
    assert all("followers" not in e.text and "私信" not in e.text for e in batch.entries)
    assert batch.skipped_private == 2  # one followers-only, one direct
    assert batch.meta.title == "Mastodon archive of Li Hua 李华"


@pytest.mark.parametrize("content", ["<a " * 100_000, "<!--" * 100_000, "</" * 100_000, "<div>" * 50_000 + "hi"])
def test_pathological_post_html_is_fast(content: str, tmp_path: Path) -> None:
    path = tmp_path / "outbox.json"
    note = {"id": "https://m.example/n/1", "to": [AS_PUBLIC], "content": content}
    path.write_text(json.dumps({"orderedItems": [{"type": "Create", "object": note}]}), encoding="utf-8")
    started = time.monotonic()
    assert len(read_export(path).entries) == 1
    assert time.monotonic() - started < 5


def test_post_html_reduced_to_text(tmp_path: Path) -> None:
    path = tmp_path / "outbox.json"
    content = "<p>a &amp; b<br/>c</p><script>alert(1)</script><ul><li>一</li><li>二</li></ul>\x00tail"
    note = {"id": "https://m.example/n/1", "to": [AS_PUBLIC], "content": content}
    path.write_text(json.dumps({"orderedItems": [{"type": "Create", "object": note}]}), encoding="utf-8")
    assert read_export(path).entries[0].text == "a & b\nc\n\n一\n\n二\n\ntail"


def test_linkedin_multiline_commentary_and_visibility() -> None:
    batch = read_export(FIXTURES / "linkedin" / "Shares.csv")
    first = batch.entries[0]
    assert first.text.startswith('Thrilled to share that our team shipped "Guanxi 1.0" today!\n\nThree lessons:\n1.')
    assert first.text.endswith("3. Write the docs first\n\nhttps://blog.example.com/guanxi-1-0")
    assert first.published_at == datetime(2024, 3, 5, 8, 12, 45, tzinfo=timezone.utc)
    assert batch.entries[1].text == "很高兴在上海数据大会上分享了我们的实践。\n感谢所有来听讲的朋友！"
    assert batch.entries[1].image and batch.entries[1].image.startswith("https://media.licdn.com/")
    assert batch.skipped_private == 2
    assert not any("Connections only" in e.text or "Private" in e.text for e in batch.entries)


def test_facebook_mojibake_repaired_and_empty_posts_dropped() -> None:
    entries = read_export(FIXTURES / "facebook").entries
    assert entries[0].text == "今天在上海见到了老同事李明，聊了很多关于开源的事。"
    assert entries[0].published_at == datetime(2024, 3, 5, 8, 12, 45, tzinfo=timezone.utc)
    assert entries[1].text.endswith("\n\nhttps://www.inkandswitch.com/local-first/")
    assert entries[2].text == "Best café in Lisbon ☕ — pastéis de nata for breakfast"
    assert not any("Ã" in e.text or "æ" in e.text for e in entries)
    legacy = read_export(FIXTURES / "facebook_legacy").entries
    assert legacy[0].text == "新年快乐！2021 一起加油 💪"


@given(st.text())
def test_mojibake_fix_undoes_utf8_as_latin1(text: str) -> None:
    assert _fix_mojibake(text.encode("utf-8").decode("latin-1")) == text


@given(st.text())
def test_mojibake_fix_never_invents_text(text: str) -> None:
    fixed = _fix_mojibake(text)
    assert fixed == text or fixed.encode("utf-8").decode("latin-1") == text


def test_import_csv_and_jsonl_details() -> None:
    csv_entries = by_guid(read_export(FIXTURES / "import_csv" / "posts.csv"))
    blog = csv_entries["import:blog-42"]
    assert blog.text == "How we load feeds into DuckDB.\nPart 1 of 3." and blog.title == "RSS into DuckDB"
    assert blog.published_at == datetime(2024, 3, 4, 4, 0, tzinfo=timezone.utc)  # +08:00 -> UTC
    assert csv_entries["import:wechat-7"].title.startswith("周五的分享会")  # derived from text
    jsonl = by_guid(read_export(FIXTURES / "import_jsonl" / "posts.jsonl"))
    assert jsonl["import:2"].published_at == datetime(2024, 3, 6, tzinfo=timezone.utc)


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(['\n', '"', ',']), min_size=1))
def test_import_csv_round_trips_any_text(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("csv") / "posts.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["id", "text"], ["1", text]])
    assert read_export(path).entries[0].text == text.strip()


# --------------------------------------------------------------------------------------------
# Identity: re-importing the same or a newer archive gives the same guids.
# --------------------------------------------------------------------------------------------

# fixture -> the file whose newest item is dropped to fake an older archive
NEWEST_IN = {
    "twitter": "data/tweets.js",
    "mastodon": "outbox.json",
    "linkedin": "Shares.csv",
    "facebook": "your_activity_across_facebook/posts/your_posts__check_ins__photos_and_videos_1.json",
    "facebook_legacy": "posts/your_posts_1.json",
    "import_csv": "posts.csv",
    "import_jsonl": "posts.jsonl",
}


def drop_newest(path: Path) -> None:
    """Rewrite an export file without its first (newest) item, re-serialised differently."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".js":
        prefix, _, body = text.partition("= ")
        path.write_text(prefix + "= " + json.dumps(json.loads(body)[1:]), encoding="utf-8")
    elif path.suffix == ".json":
        doc = json.loads(text)
        items = doc["orderedItems"] if isinstance(doc, dict) else doc
        del items[0]
        path.write_text(json.dumps(doc), encoding="utf-8")
    elif path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows[:1] + rows[2:])
    else:
        path.write_text("\n".join(text.splitlines()[1:]), encoding="utf-8")


@pytest.mark.parametrize("name", sorted(NEWEST_IN))
def test_reimport_is_stable_and_newer_archive_is_superset(name: str, tmp_path: Path) -> None:
    newer = read_export(FIXTURES / name)
    assert read_export(FIXTURES / name) == newer
    older_folder = copy_fixture(name, tmp_path)
    drop_newest(older_folder / NEWEST_IN[name])
    older = read_export(zip_folder(older_folder, tmp_path / "older.zip"))
    assert len(older.entries) == len(newer.entries) - 1
    newer_by_guid = by_guid(newer)
    assert all(newer_by_guid[e.guid] == e for e in older.entries)


def test_duplicate_items_across_parts_are_deduplicated(tmp_path: Path) -> None:
    folder = copy_fixture("twitter", tmp_path)
    shutil.copy(folder / "data" / "tweets.js", folder / "data" / "tweets-part2.js")
    assert [e.guid for e in read_export(folder).entries] == EXPECTED["twitter"][0]


# --------------------------------------------------------------------------------------------
# Broken and unrecognised input.
# --------------------------------------------------------------------------------------------

BROKEN = [
    ("broken/truncated/outbox.json", r"^export: outbox\.json: truncated JSON \(ends early at line \d+\)$"),
    ("broken/truncated", r"^export: outbox\.json: truncated JSON"),
    ("broken/wrong_prefix", r'^export: data/tweets\.js: not a Twitter archive part '
                            r'\(expected "window\.YTD\.tweets\.part0 = \["\)$'),
    ("broken/missing_columns/Shares.csv", r"^export: Shares\.csv: missing column\(s\) ShareCommentary, "
                                          r"Visibility \(found: Date, ShareLink, SharedUrl\)$"),
    ("broken/import_missing_columns/posts.csv", r"^export: posts\.csv: missing column\(s\) text \(found: id, body, date\)$"),
    ("broken/empty", r"^export: data/tweets\.js: empty file$"),
    ("broken/bad_date/posts.jsonl", r"^export: posts\.jsonl: line 1: bad published_at 'last Tuesday' "
                                    r"\(expected ISO 8601\)$"),
    ("broken/not_an_export", r"^export: not_an_export: no known export found \(looked for data/tweets\.js"),
    ("broken/import_missing_columns", r"^export: import_missing_columns: no known export found"),
]


@pytest.mark.parametrize(("rel", "pattern"), BROKEN)
def test_broken_fixture_raises_clear_error(rel: str, pattern: str) -> None:
    error = raises_export(FIXTURES / rel, pattern)
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(("rel", "pattern"), [(r, p) for r, p in BROKEN if "import_missing_columns/" not in r])
def test_broken_fixture_raises_same_error_from_zip(rel: str, pattern: str, tmp_path: Path) -> None:
    source = FIXTURES / rel
    if source.is_file():
        archive = tmp_path / "x.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.write(source, source.name)
    else:
        archive = zip_folder(source, tmp_path / f"{source.name}.zip")
    raises_export(archive, pattern.replace(f"export: {source.name}:", f"export: {source.name}.zip:"))


@pytest.mark.parametrize(("name", "content", "pattern"), [
    ("outbox.json", '{"orderedItems": [}', r"^export: outbox\.json: not valid JSON \(Expecting value at line 1 column 19\)$"),
    ("outbox.json", '{"type": "OrderedCollection"}', r'^export: outbox\.json: not a Mastodon outbox'),
    ("outbox.json", '{"orderedItems": [42]}', r"^export: outbox\.json: item 0: expected an object, got int$"),
    ("tweets.js", 'window.YTD.tweets.part0 = [alert(document.cookie)]', r"^export: tweets\.js: not valid JSON"),
    ("tweets.js", 'window.YTD.tweets.part0 = [{"tweet": {"full_text": "x"}}]', r"^export: tweets\.js: item 0: missing id_str$"),
    ("tweets.js", 'window.YTD.tweets.part0 = [{"tweet": {"id_str": "1", "created_at": "yesterday"}}]',
     r"^export: tweets\.js: item 0: bad created_at 'yesterday'$"),
    ("tweets.js", 'window.YTD.tweets.part0 = [] ; alert(1)', r"^export: tweets\.js: unexpected text after the JSON value$"),
    ("Shares.csv", "Date,ShareLink,ShareCommentary,Visibility\n03/05/2024,https://l/1,hi,PUBLIC\n",
     r"^export: Shares\.csv: line 2: bad Date '03/05/2024' \(expected ISO 8601\)$"),
    ("your_posts_1.json", '[{"data": [{"post": "hi"}]}]', r'^export: your_posts_1\.json: item 0: missing numeric "timestamp"$'),
    ("your_posts_1.json", '[{"timestamp": 1e300, "data": [{"post": "hi"}]}]',
     r"^export: your_posts_1\.json: item 0: bad timestamp 1e\+300$"),
    ("outbox.json", '{"orderedItems": [{"type": "Create", "object": {"id": "n1", "to": ["as:Public"], '
                    '"published": "0001-01-01T00:00:00+01:00"}}]}',
     r"^export: outbox\.json: item 0: bad published '0001-01-01T00:00:00\+01:00' \(expected ISO 8601\)$"),
    ("tweets.js", 'window.YTD.tweets.part0 = [{"tweet": {"id_str": "\u00b2"}}]', r"^export: tweets\.js: item 0: missing id_str$"),
    ("your_posts_1.json", '{"a": 1}', r"^export: your_posts_1\.json: not a Facebook posts file"),
    ("posts.jsonl", '{"id": 1, "text": "ok"}\n{"id": 2, "text": \n', r"^export: posts\.jsonl: line 2: not valid JSON"),
    ("posts.jsonl", '{"id": 1}\n', r"^export: posts\.jsonl: line 1: missing key\(s\) text \(expected id,url,title,text"),
    ("posts.csv", "id,text\n,orphan\n", r"^export: posts\.csv: line 2: empty id$"),
    ("posts.csv", b"id,text\n1,caf\xe9\n", r"^export: posts\.csv: not UTF-8 text \(bad byte at offset 13\)$"),
    ("posts.zip", b"PK\x03\x04 not really a zip", r"^export: posts\.zip: not a valid zip archive"),
])
def test_broken_file_raises_clear_error(name: str, content: str | bytes, pattern: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    raises_export(path, pattern)


@pytest.mark.parametrize(("name", "prefix", "depth"), [
    ("your_posts_1.json", "", 900), ("your_posts_1.json", "", 100_000),
    ("outbox.json", "", 100_000), ("tweets.js", "window.YTD.tweets.part0 = ", 100_000),
])
def test_deeply_nested_json_is_refused(name: str, prefix: str, depth: int, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text(prefix + "[" * depth + "]" * depth, encoding="utf-8")
    raises_export(path, rf"^export: {re.escape(name)}: (JSON nested too deeply|item 0: expected an object)")


def test_missing_path_and_mixed_exports(tmp_path: Path) -> None:
    raises_export(tmp_path / "nope.zip", r"^export: .*nope\.zip: no such file or folder$")
    mixed = tmp_path / "mixed"
    shutil.copytree(FIXTURES / "twitter", mixed / "twitter")
    shutil.copytree(FIXTURES / "mastodon", mixed / "mastodon")
    raises_export(mixed, r"^export: mixed: holds more than one kind of export \(X/Twitter, Mastodon\)")


# --------------------------------------------------------------------------------------------
# Hostile zips: refused whole, limits enforced on the bytes actually decompressed.
# --------------------------------------------------------------------------------------------


def hostile_zip(path: Path, member: zipfile.ZipInfo | str, payload: bytes = b"x") -> Path:
    """A valid Mastodon export zip plus one extra member."""
    zip_folder(FIXTURES / "mastodon", path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(member, payload)
    return path


def symlink_member(name: str) -> zipfile.ZipInfo:
    """A zip member whose Unix mode says symlink."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(("member", "reason"), [
    ("../../../home/user/.bashrc", r"'\.\.' component"),
    ("data/../../evil.js", r"'\.\.' component"),
    ("..\\..\\Windows\\evil.js", r"'\.\.' component"),
    ("/etc/cron.d/evil", "absolute path"),
    ("\\\\server\\share\\evil", "absolute path"),
    ("C:/Windows/System32/evil.dll", "drive letter"),
    (symlink_member("data/account.js"), "symlink"),
])
def test_unsafe_member_refuses_whole_zip(member: zipfile.ZipInfo | str, reason: str, tmp_path: Path) -> None:
    archive = hostile_zip(tmp_path / "evil.zip", member, b"/etc/passwd")
    raises_export(archive, rf"^export: evil\.zip: unsafe member '.+' \({reason}\)$")


def test_too_many_members_refused(tmp_path: Path) -> None:
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(51):
            zf.writestr(f"media/{i}.jpg", b"")
    raises_export(archive, r"^export: many\.zip: too many members \(more than 50\)$", max_members=50)
    assert read_export(FIXTURES / "mastodon", max_members=50).status == "ok"
    raises_export(FIXTURES / "twitter", r"^export: twitter: too many files \(more than 3\)$", max_members=3)


def test_member_count_is_checked_before_zipfile_parses_the_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "many64.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # > 65535 members forces the zip64 end records
        for i in range(70_000):
            zf.writestr(zipfile.ZipInfo(f"m/{i}"), b"")
    monkeypatch.setattr(exports.zipfile, "ZipFile", lambda *a, **k: pytest.fail("ZipFile parsed the directory"))
    raises_export(archive, r"^export: many64\.zip: too many members \(more than 69999\)$", max_members=69_999)


def write_bomb(path: Path, name: str, megabytes: int) -> Path:
    """A zip whose single member inflates `megabytes` MiB of spaces from a few KB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open(name, "w") as member:
            member.write(b"window.YTD.tweets.part0 = [")
            chunk = b" " * MB
            for _ in range(megabytes):
                member.write(chunk)
    return path


def test_zip_bomb_stops_at_per_member_limit(tmp_path: Path) -> None:
    bomb = write_bomb(tmp_path / "bomb.zip", "data/tweets.js", 80)
    assert bomb.stat().st_size < MB  # > 100:1 compression ratio
    started = time.monotonic()
    raises_export(bomb, r"^export: data/tweets\.js: too large \(header says \d+ bytes; per-file limit is 67108864\)$")
    assert time.monotonic() - started < 5


def test_zip_bomb_with_lying_header_stops_without_inflating(tmp_path: Path) -> None:
    bomb = write_bomb(tmp_path / "liar.zip", "data/tweets.js", 80)
    data = bytearray(bomb.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local + central header sizes
        at = data.index(signature)
        struct.pack_into("<I", data, at + offset, 1000)
    bomb.write_bytes(bytes(data))
    assert zipfile.ZipFile(bomb).getinfo("data/tweets.js").file_size == 1000
    raises_export(bomb, r"^export: data/tweets\.js: corrupt zip member \(")


def test_total_limit_applies_across_members(tmp_path: Path) -> None:
    folder = copy_fixture("twitter", tmp_path)
    limit = (folder / "data" / "tweets.js").stat().st_size + 100
    raises_export(folder, r"^export: data/.+: too large \(export over the total limit of \d+ bytes\)$",
                  max_total_bytes=limit)
    raises_export(zip_folder(folder, tmp_path / "t.zip"), r"too large \(.*total limit of \d+ bytes\)$",
                  max_total_bytes=limit)


def test_per_member_limit_applies_to_folders_and_files(tmp_path: Path) -> None:
    raises_export(FIXTURES / "mastodon", r"^export: outbox\.json: too large \(over the per-file limit of 1000 bytes\)$",
                  max_member_bytes=1000)
    raises_export(FIXTURES / "linkedin" / "Shares.csv", r"^export: Shares\.csv: too large", max_member_bytes=100)


def test_encrypted_member_refused(tmp_path: Path) -> None:
    archive = tmp_path / "enc.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("outbox.json", b"{}")
    data = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # general-purpose flags
        data[data.index(signature) + offset] |= 0x1
    archive.write_bytes(bytes(data))
    raises_export(archive, r"^export: outbox\.json: encrypted zip member$")


def test_folder_symlinks_are_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "outbox.json").symlink_to(FIXTURES / "mastodon" / "outbox.json")
    raises_export(folder, r"^export: export: no known export found")


# --------------------------------------------------------------------------------------------
# Whatever the bytes, the caller sees a Batch or an ExportError, never another exception.
# --------------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "id_str", "type", "object", "to", "cc", "tweet", "full_text", "created_at",
                         "entities", "urls", "media", "orderedItems", "timestamp", "data", "post",
                         "attachments", "text", "published", "content", "url"]) | st.text(max_size=5),
        inner, max_size=5),
    max_leaves=20)
SHAPES = {
    "outbox.json": lambda doc: json.dumps({"orderedItems": doc}),
    "tweets.js": lambda doc: "window.YTD.tweets.part0 = " + json.dumps([doc]),
    "your_posts_1.json": lambda doc: json.dumps([doc]),
    "posts.jsonl": lambda doc: json.dumps(doc),
}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SHAPES)), st.lists(JSON, max_size=3))
def test_arbitrary_json_gives_batch_or_export_error(tmp_path_factory: pytest.TempPathFactory,
                                                    name: str, docs: list[object]) -> None:
    path = tmp_path_factory.mktemp("fuzz") / name
    shape = SHAPES[name]
    path.write_text(shape(docs) if name != "posts.jsonl" else "\n".join(shape(d) for d in docs) + "\n",
                    encoding="utf-8")
    try:
        assert read_export(path).status == "ok"
    except ExportError as exc:
        assert str(exc).startswith("export: ") and "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["Shares.csv", "posts.csv", "tweets.js", "outbox.json", "x.zip"]), st.binary(max_size=300))
def test_arbitrary_bytes_give_batch_or_export_error(tmp_path_factory: pytest.TempPathFactory,
                                                    name: str, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    try:
        read_export(path)
    except ExportError as exc:
        assert str(exc).startswith("export: ") and "\n" not in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_zip_gives_batch_or_export_error(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    folder = tmp_path_factory.mktemp("zip")
    archive = bytearray(zip_folder(FIXTURES / "mastodon", folder / "m.zip").read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        archive[data.draw(st.integers(0, len(archive) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(archive)))
    (folder / "m.zip").write_bytes(bytes(archive[:cut]))
    try:
        read_export(folder / "m.zip")
    except ExportError as exc:
        assert str(exc).startswith("export: ") and "\n" not in str(exc)
