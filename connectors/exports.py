"""Platform "download your data" exports (X, Mastodon, LinkedIn, Facebook, CSV/JSONL) as a source.

`read_export` takes a single file, an unpacked folder or a .zip (read in place, never extracted),
finds which platform's export it holds from the file names inside, parses it without ever
evaluating code, and returns a `Batch` of the public posts. Anything broken, unsafe or
unrecognised raises `ExportError` whose message is one line starting with "export: ".
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import posixpath
import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any

from guanxi.errors import GuanxiError
from guanxi.models import Batch, Entry, FeedMeta
from transforms.text import html_to_text

__all__ = ["ExportError", "MAX_MEMBERS", "read_export"]

MAX_MEMBERS = 100_000
AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
_PUBLIC_AUDIENCE = {AS_PUBLIC, "as:Public", "Public"}
_LINKEDIN_PUBLIC = {"", "PUBLIC", "ANYONE"}
_CHUNK = 1 << 16
_TITLE_CHARS = 80
_MAX_POST_CHARS = 200_000  # far beyond any platform's post limit
_MAX_LINKS = 100  # t.co links expanded per tweet (a tweet has a handful)


class ExportError(GuanxiError, ValueError):
    """A broken, unsafe or unrecognised export; the message is one line starting "export: "."""


def _fail(name: str, problem: str) -> ExportError:
    """Build the one-line ExportError for `name` (control characters made visible)."""
    return ExportError(re.sub(r"[\x00-\x1f\x7f]", "?", f"export: {name}: {problem}"))


# --------------------------------------------------------------------------------------------
# Reading files: a folder, a single file or a zip, all behind the same small interface.
# --------------------------------------------------------------------------------------------


@dataclass
class _Limits:
    """Byte and member-count budgets for one read_export call."""

    total: int
    member: int
    members: int
    used: int = 0


class _Tree:
    """Read-only view of an export's files by relative POSIX path, with byte budgets."""

    def __init__(self, label: str, limits: _Limits, single: bool = False) -> None:
        self.label = label
        self.limits = limits
        self.single = single
        self.names: list[str] = []
        self._cache: dict[str, bytes] = {}

    def __enter__(self) -> _Tree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release any open handle."""

    def read(self, name: str) -> bytes:
        """Return a member's bytes, read at most once and counted against the budgets."""
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache[name]

    def _read(self, name: str) -> bytes:
        """Read a member from the underlying storage (implemented by each kind of tree)."""
        raise NotImplementedError

    def _count_member(self, count: int, what: str) -> None:
        """Refuse exports with more members than the limit allows."""
        if count > self.limits.members:
            raise _fail(self.label, f"too many {what} (more than {self.limits.members})")


def _read_capped(stream: IO[bytes], name: str, limits: _Limits) -> bytes:
    """Read a stream in chunks, stopping as soon as the per-file or total budget is exceeded."""
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > limits.member:
            raise _fail(name, f"too large (over the per-file limit of {limits.member} bytes)")
        if limits.used + size > limits.total:
            raise _fail(name, f"too large (export over the total limit of {limits.total} bytes)")
        chunks.append(chunk)
    limits.used += size
    return b"".join(chunks)


def _open_file(path: Path, name: str, limits: _Limits) -> bytes:
    """Read one file from disk within the budgets."""
    try:
        with path.open("rb") as stream:
            return _read_capped(stream, name, limits)
    except OSError as exc:
        raise _fail(name, f"cannot read ({exc.strerror or exc})") from None


class _FileTree(_Tree):
    """A single export file given directly (e.g. tweets.js or Shares.csv)."""

    def __init__(self, path: Path, limits: _Limits) -> None:
        super().__init__(path.name, limits, single=True)
        self.path = path
        self.names = [path.name]

    def _read(self, name: str) -> bytes:
        return _open_file(self.path, name, self.limits)


class _DirTree(_Tree):
    """An unpacked export folder; symlinks are neither listed nor followed."""

    def __init__(self, root: Path, limits: _Limits) -> None:
        super().__init__(root.name or str(root), limits)
        self.root = root
        for base, dirs, files in os.walk(root, onerror=self._walk_error):
            dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(base, d)))
            for file in sorted(files):
                full = os.path.join(base, file)
                if os.path.isfile(full) and not os.path.islink(full):
                    self.names.append(Path(full).relative_to(root).as_posix())
                    self._count_member(len(self.names), "files")

    def _walk_error(self, exc: OSError) -> None:
        raise _fail(self.label, f"cannot list folder ({exc.strerror or exc})")

    def _read(self, name: str) -> bytes:
        return _open_file(self.root / name, name, self.limits)


_DRIVE = re.compile(r"^[A-Za-z]:")
# What zipfile raises for damaged archives (bad headers, names, versions, offsets, data).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError,
               ValueError, NotImplementedError, RuntimeError)


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    """Say why a zip member is unsafe (absolute, drive, '..', symlink), or None if it is fine."""
    name = info.orig_filename
    if name.startswith(("/", "\\")):
        return "absolute path"
    if _DRIVE.match(name):
        return "drive letter"
    if ".." in re.split(r"[\\/]", name):
        return "'..' component"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symlink"
    return None


_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_LOCATOR_SIZE = 20


def _central_directory_bounds(fh: IO[bytes]) -> tuple[int, int] | None:
    """(start, end) of the central directory as zipfile will find it, or None if unreadable."""
    size = fh.seek(0, os.SEEK_END)
    tail_start = fh.seek(max(0, size - _EOCD.size - 0xFFFF))
    tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        return None
    end, cd_size = tail_start + at, _EOCD.unpack_from(tail, at)[5]
    if at >= _ZIP64_LOCATOR_SIZE and tail[at - _ZIP64_LOCATOR_SIZE:][:4] == b"PK\x06\x07":
        end -= _ZIP64_LOCATOR_SIZE + _ZIP64_EOCD.size
        fh.seek(max(0, end))
        record = fh.read(_ZIP64_EOCD.size)
        if end < 0 or len(record) < _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
            return None
        cd_size = _ZIP64_EOCD.unpack(record)[8]
    return (end - cd_size, end) if cd_size <= end else None


def _count_members(path: Path, stop: int) -> int:
    """Count central-directory records without building them, giving up once past `stop`."""
    with path.open("rb") as fh:
        bounds = _central_directory_bounds(fh)
        if bounds is None:
            return 0
        pos, end = bounds
        count = 0
        while pos < end and count <= stop:
            fh.seek(pos)
            head = fh.read(46)
            if len(head) < 46 or head[:4] != b"PK\x01\x02":
                break
            pos += 46 + sum(struct.unpack_from("<3H", head, 28))
            count += 1
        return count


class _ZipTree(_Tree):
    """A .zip export read in place; refused whole if any member is unsafe."""

    def __init__(self, path: Path, limits: _Limits) -> None:
        super().__init__(path.name, limits)
        try:
            counted = _count_members(path, limits.members)
        except OSError as exc:
            raise _fail(self.label, f"cannot read ({exc.strerror or exc})") from None
        self._count_member(counted, "members")  # before zipfile builds an object per member
        try:
            self.zip = zipfile.ZipFile(path)
        except _ZIP_ERRORS as exc:
            raise _fail(self.label, f"not a valid zip archive ({exc})") from None
        infos = self.zip.infolist()
        try:
            self._count_member(len(infos), "members")
            for info in infos:
                if reason := _unsafe_member(info):
                    raise _fail(self.label, f"unsafe member {info.orig_filename!r} ({reason})")
        except ExportError:
            self.zip.close()
            raise
        self.infos = {i.filename: i for i in infos if not i.is_dir()}
        self.names = sorted(self.infos)

    def close(self) -> None:
        self.zip.close()

    def _read(self, name: str) -> bytes:
        info = self.infos[name]
        if info.flag_bits & 0x1:
            raise _fail(name, "encrypted zip member")
        if info.file_size > self.limits.member:
            raise _fail(name, f"too large (header says {info.file_size} bytes; "
                              f"per-file limit is {self.limits.member})")
        if self.limits.used + info.file_size > self.limits.total:
            raise _fail(name, f"too large (header says {info.file_size} bytes; "
                              f"export over the total limit of {self.limits.total} bytes)")
        try:
            with self.zip.open(info) as stream:
                return _read_capped(stream, name, self.limits)
        except ExportError:
            raise
        except _ZIP_ERRORS as exc:
            raise _fail(name, f"corrupt zip member ({exc})") from None


def _open_tree(path: Path, limits: _Limits) -> _Tree:
    """Open a path as a folder, a zip (by its bytes, not its name) or a single file."""
    if path.is_dir():
        return _DirTree(path, limits)
    if not path.exists():
        raise _fail(str(path), "no such file or folder")
    if not path.is_file():
        raise _fail(str(path), "not a regular file or folder")
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        return _ZipTree(path, limits)
    return _FileTree(path, limits)


# --------------------------------------------------------------------------------------------
# Shared decoding helpers.
# --------------------------------------------------------------------------------------------


def _text(tree: _Tree, name: str) -> str:
    """Decode a member as UTF-8 text (BOM tolerated); empty files are an error."""
    data = tree.read(name)
    if not data.strip():
        raise _fail(name, "empty file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(name, f"not UTF-8 text (bad byte at offset {exc.start})") from None


_SPACE = re.compile(r"\s*")


def _json_at(text: str, name: str, start: int = 0) -> Any:
    """Parse the one JSON value that starts at `start` (a trailing ';' is tolerated)."""
    start = _SPACE.match(text, start).end()  # type: ignore[union-attr]
    try:
        value, end = json.JSONDecoder().raw_decode(text, start)
    except RecursionError:
        raise _fail(name, "JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise _fail(name, f"truncated JSON (ends early at line {exc.lineno})") from None
        raise _fail(name, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if text[end:].strip().rstrip(";").strip():
        raise _fail(name, "unexpected text after the JSON value")
    return value


def _json_file(tree: _Tree, name: str) -> Any:
    """Read and parse a whole member as JSON."""
    return _json_at(_text(tree, name), name)


def _csv_rows(tree: _Tree, name: str, required: tuple[str, ...]) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield ("line N", row) for a CSV member after checking its header has `required`."""
    reader = csv.DictReader(io.StringIO(_text(tree, name), newline=""))
    try:
        header = [(h or "").strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        if missing := [c for c in required if c not in header]:
            raise _fail(name, f"missing column(s) {', '.join(missing)} (found: {', '.join(header)})")
        for row in reader:
            yield f"line {reader.line_num}", {k: (v or "").strip() for k, v in row.items() if k}
    except csv.Error as exc:
        raise _fail(name, f"broken CSV at line {reader.line_num} ({exc})") from None


def _utc(moment: datetime) -> datetime:
    """Make a datetime tz-aware UTC (naive values are taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _iso_date(value: object, name: str, where: str, what: str) -> datetime | None:
    """Parse an ISO 8601 date field (missing/empty gives None, garbage raises)."""
    if value is None or value == "":
        return None
    try:
        return _utc(datetime.fromisoformat(str(value).strip()))
    except (ValueError, OverflowError):
        raise _fail(name, f"{where}: bad {what} {str(value)[:40]!r} (expected ISO 8601)") from None




def _html_to_text(markup: str) -> str:
    """Post HTML as plain text (bounded input; the shared linear-time converter)."""
    return html_to_text(markup[:_MAX_POST_CHARS])


def _squeeze(text: str) -> str:
    """Collapse runs of spaces within lines and of blank lines between them."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _title(text: str) -> str:
    """A short title for an untitled post: its first line, cut to 80 characters."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first if len(first) <= _TITLE_CHARS else first[: _TITLE_CHARS - 1].rstrip() + "…"


def _with_link(text: str, link: str | None) -> str:
    """Append a shared link to the text unless the text already contains it."""
    if not link or link in text:
        return text
    return f"{text}\n\n{link}" if text else link


def _content_hash(text: str) -> str:
    """A short stable hash of post text (NFC, outer whitespace ignored)."""
    normal = unicodedata.normalize("NFC", text.strip())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]


def _obj(value: object, name: str, where: str) -> dict[str, Any]:
    """Insist that an item is a JSON object."""
    if not isinstance(value, dict):
        raise _fail(name, f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: object) -> list[Any]:
    """A JSON list or an empty one when the field is absent or of another type."""
    return value if isinstance(value, list) else []


def _scalar(value: object) -> str:
    """A JSON scalar as stripped text ("" for null)."""
    return "" if value is None else str(value).strip()


@dataclass
class _Parsed:
    """What one format parser produced."""

    entries: list[Entry] = field(default_factory=list)
    skipped_private: int = 0
    meta: FeedMeta = field(default_factory=FeedMeta)


def _sibling(name: str, other: str) -> str:
    """The path of `other` in the same folder as `name`."""
    return posixpath.join(posixpath.dirname(name), other)


# --------------------------------------------------------------------------------------------
# X / Twitter archive: data/tweets.js, data/tweets-part1.js, ... (+ account.js).
# --------------------------------------------------------------------------------------------

_YTD = re.compile(r"\s*window\.YTD\.([A-Za-z_]+)\.part\d+\s*=\s*(?=\[)")
_TWITTER_NO_LANG = {"und", "zxx", "qme", "qht", "qst", "art"}


def _ytd(tree: _Tree, name: str, kind: str) -> list[Any]:
    """Parse a `window.YTD.<kind>.partN = [...]` file as JSON, never as code."""
    text = _text(tree, name)
    match = _YTD.match(text)
    if not match or match.group(1) not in (kind, kind.rstrip("s")):
        raise _fail(name, f'not a Twitter archive part (expected "window.YTD.{kind}.part0 = [")')
    return _json_at(text, name, match.end())


def _ytd_records(tree: _Tree, name: str, kind: str, key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ("item N", record) for a YTD file whose items look like {key: {...}}."""
    for i, item in enumerate(_ytd(tree, name, kind)):
        where = f"item {i}"
        item = _obj(item, name, where)
        yield where, _obj(item.get(key, item), name, where)


def _twitter_account(tree: _Tree, part: str) -> tuple[str | None, str | None]:
    """(username, display name) from the account.js next to a tweets part, if present."""
    name = _sibling(part, "account.js")
    if name not in tree.names:
        return None, None
    for _, account in _ytd_records(tree, name, "account", "account"):
        username = _scalar(account.get("username"))
        valid = re.fullmatch(r"[A-Za-z0-9_]{1,50}", username)  # it goes into URLs
        return (username if valid else None), _scalar(account.get("accountDisplayName")) or None
    return None, None


def _twitter_protected(tree: _Tree, part: str) -> bool:
    """True if protected-history.js says the account is currently protected (tweets not public)."""
    name = _sibling(part, "protected-history.js")
    if name not in tree.names:
        return False
    history = [r for _, r in _ytd_records(tree, name, "protected_history", "protectedHistory")]
    history.sort(key=lambda r: _scalar(r.get("protectedAt")))
    return bool(history) and _scalar(history[-1].get("action")).lower() == "protect"


def _twitter_date(value: object, name: str, where: str) -> datetime | None:
    """Parse Twitter's "Wed Oct 10 20:19:24 +0000 2018" (locale-independent)."""
    if not value:
        return None
    parts = str(value).split()
    try:
        if len(parts) != 6:
            raise ValueError(value)
        weekday, month, day, clock, offset, year = parts
        return _utc(parsedate_to_datetime(f"{weekday}, {day} {month} {year} {clock} {offset}"))
    except (ValueError, TypeError, OverflowError):
        raise _fail(name, f"{where}: bad created_at {str(value)[:40]!r}") from None


def _tweet_entry(tweet: dict[str, Any], name: str, where: str,
                 username: str | None, author: str | None) -> Entry:
    """One tweet as an Entry: t.co links expanded, media links dropped, first photo kept."""
    tweet_id = _scalar(tweet.get("id_str") or tweet.get("id"))
    if not re.fullmatch(r"[0-9]+", tweet_id):
        raise _fail(name, f"{where}: missing id_str")
    text = html.unescape(_scalar(tweet.get("full_text") or tweet.get("text"))[:_MAX_POST_CHARS])
    entities = tweet.get("entities") if isinstance(tweet.get("entities"), dict) else {}
    for link in _list(entities.get("urls"))[:_MAX_LINKS]:
        if isinstance(link, dict) and link.get("url") and link.get("expanded_url"):
            text = text.replace(str(link["url"]), str(link["expanded_url"]))
    extended = tweet.get("extended_entities") if isinstance(tweet.get("extended_entities"), dict) else {}
    media = [m for m in _list(extended.get("media")) or _list(entities.get("media")) if isinstance(m, dict)]
    for item in media[:_MAX_LINKS]:
        if item.get("url"):
            text = text.replace(str(item["url"]), "")
    text = text.strip()
    lang = _scalar(tweet.get("lang"))
    return Entry(
        guid=f"x:{tweet_id}",
        url=f"https://x.com/{username or 'i/web'}/status/{tweet_id}",
        title=_title(text),
        text=text,
        published_at=_twitter_date(tweet.get("created_at"), name, where),
        author=author or username,
        image=next((str(m["media_url_https"]) for m in media if m.get("media_url_https")), None),
        lang=None if lang in _TWITTER_NO_LANG else lang or None,
        is_repost=text.startswith("RT @") or "retweeted_status" in tweet,
    )


def _parse_twitter(tree: _Tree, names: list[str]) -> _Parsed:
    """X/Twitter archive: every tweets part; all skipped as private if the account is protected."""
    username, _ = _twitter_account(tree, names[0])
    parsed = _Parsed(meta=FeedMeta(title=f"X archive of @{username}", link=f"https://x.com/{username}")
                     if username else FeedMeta(title="X archive"))
    for name in names:
        username, author = _twitter_account(tree, name)
        protected = _twitter_protected(tree, name)
        for where, tweet in _ytd_records(tree, name, "tweets", "tweet"):
            entry = _tweet_entry(tweet, name, where, username, author)
            if protected:
                parsed.skipped_private += 1
            else:
                parsed.entries.append(entry)
    return parsed


# --------------------------------------------------------------------------------------------
# Mastodon archive: outbox.json (+ actor.json).
# --------------------------------------------------------------------------------------------


def _audience(item: dict[str, Any]) -> set[str]:
    """Everything an activity or object is addressed to (to + cc)."""
    found: set[str] = set()
    for key in ("to", "cc"):
        value = item.get(key)
        found.update(str(v) for v in (value if isinstance(value, list) else [value]) if v)
    return found


def _ap_id(value: object) -> str:
    """The id of an ActivityPub reference, whether given as a string or an object."""
    return _scalar(value.get("id") if isinstance(value, dict) else value)


def _mastodon_actor(tree: _Tree, outbox: str) -> dict[str, Any]:
    """The actor.json next to the outbox, or {} if absent."""
    name = _sibling(outbox, "actor.json")
    if name not in tree.names:
        return {}
    actor = _json_file(tree, name)
    return actor if isinstance(actor, dict) else {}


def _first_image(attachments: list[Any]) -> str | None:
    """The first absolute image URL among ActivityStreams attachments."""
    for item in attachments:
        if isinstance(item, dict) and _scalar(item.get("mediaType")).startswith("image/"):
            url = _scalar(item.get("url"))
            if url.startswith(("https://", "http://")):
                return url
    return None


def _mastodon_entry(activity: dict[str, Any], name: str, where: str, author: str | None) -> Entry | None:
    """A Create(Note) or Announce activity as an Entry; other activity types give None."""
    kind = activity.get("type")
    if kind == "Announce":
        target = _ap_id(activity.get("object"))
        if not _ap_id(activity):
            raise _fail(name, f'{where}: Announce without "id"')
        # The bare ActivityPub id, exactly what the API connector stores as a status's `uri`,
        # so a post read both live and from an archive is one post.
        return Entry(guid=_ap_id(activity), url=target or None,
                     title=f"Boosted {target}" if target else "Boosted a post", text="",
                     published_at=_iso_date(activity.get("published"), name, where, "published"),
                     author=author, is_repost=True)
    if kind != "Create" or not isinstance(activity.get("object"), dict):
        return None
    note = activity["object"]
    if not _ap_id(note):
        raise _fail(name, f'{where}: Note without "id"')
    content = _scalar(note.get("content"))
    text = _html_to_text(content)
    summary = _html_to_text(_scalar(note.get("summary")))
    content_map = note.get("contentMap") if isinstance(note.get("contentMap"), dict) else {}
    url = note.get("url")
    return Entry(
        guid=_ap_id(note),
        url=url if isinstance(url, str) and url else _ap_id(note),
        title=summary or _title(text),
        text=text,
        published_at=_iso_date(note.get("published") or activity.get("published"), name, where, "published"),
        html=content or None,
        author=author,
        image=_first_image(_list(note.get("attachment"))),
        lang=next(iter(content_map), None),
    )


def _parse_mastodon(tree: _Tree, names: list[str]) -> _Parsed:
    """Mastodon archive: public/unlisted posts and boosts; followers-only and direct are counted."""
    parsed = _Parsed()
    for name in names:
        outbox = _json_file(tree, name)
        if not isinstance(outbox, dict) or not isinstance(outbox.get("orderedItems"), list):
            raise _fail(name, 'not a Mastodon outbox (expected an OrderedCollection with "orderedItems")')
        actor = _mastodon_actor(tree, name)
        author = _scalar(actor.get("name") or actor.get("preferredUsername")) or None
        for i, item in enumerate(outbox["orderedItems"]):
            activity = _obj(item, name, f"item {i}")
            entry = _mastodon_entry(activity, name, f"item {i}", author)
            if entry is None:
                continue
            note = activity.get("object")
            target = note if isinstance(note, dict) and _audience(note) else activity
            if _audience(target) & _PUBLIC_AUDIENCE:
                parsed.entries.append(entry)
            else:
                parsed.skipped_private += 1
        parsed.meta = FeedMeta(title=f"Mastodon archive of {author}" if author else "Mastodon archive",
                               link=_scalar(actor.get("url")) or None)
    return parsed


# --------------------------------------------------------------------------------------------
# LinkedIn export: Shares.csv.
# --------------------------------------------------------------------------------------------

_LINKEDIN_REQUIRED = ("Date", "ShareLink", "ShareCommentary", "Visibility")
_LINKEDIN_URN = re.compile(r"urn(?::|%3A)li(?::|%3A)(\w+)(?::|%3A)(\d+)", re.IGNORECASE)


def _linkedin_guid(link: str, stamp: str, text: str) -> str:
    """linkedin:urn:li:<kind>:<n> from the ShareLink (else the link, else date + text hash)."""
    if match := _LINKEDIN_URN.search(link):
        return f"linkedin:urn:li:{match.group(1)}:{match.group(2)}"
    return f"linkedin:{link}" if link else f"linkedin:{stamp}:{_content_hash(text)}"


def _parse_linkedin(tree: _Tree, names: list[str]) -> _Parsed:
    """LinkedIn Shares.csv: public shares; connections/network-only shares are counted."""
    parsed = _Parsed(meta=FeedMeta(title="LinkedIn export"))
    for name in names:
        for where, row in _csv_rows(tree, name, _LINKEDIN_REQUIRED):
            if row["Visibility"].upper() not in _LINKEDIN_PUBLIC:
                parsed.skipped_private += 1
                continue
            commentary = row["ShareCommentary"]
            text = _with_link(commentary, row.get("SharedUrl"))
            parsed.entries.append(Entry(
                guid=_linkedin_guid(row["ShareLink"], row["Date"], commentary),
                url=row["ShareLink"] or None,
                title=_title(text),
                text=text,
                published_at=_iso_date(row["Date"], name, where, "Date"),
                image=row.get("MediaUrl") or None,
            ))
    return parsed


# --------------------------------------------------------------------------------------------
# Facebook export: your_posts__check_ins__photos_and_videos_N.json or posts/your_posts_N.json.
# --------------------------------------------------------------------------------------------


def _fix_mojibake(text: str) -> str:
    """Undo Facebook's UTF-8-bytes-as-\\u00XX escapes when the repair round-trips cleanly."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


def _repair(value: Any) -> Any:
    """Apply the mojibake fix to every string in a parsed JSON value."""
    if isinstance(value, str):
        return _fix_mojibake(value)
    if isinstance(value, list):
        return [_repair(v) for v in value]
    if isinstance(value, dict):
        return {_fix_mojibake(k): _repair(v) for k, v in value.items()}
    return value


def _repaired_json(tree: _Tree, name: str) -> Any:
    """Parse a Facebook JSON file and repair the mojibake in every string."""
    doc = _json_file(tree, name)
    try:
        return _repair(doc)
    except RecursionError:
        raise _fail(name, "JSON nested too deeply") from None


def _facebook_parts(post: dict[str, Any]) -> tuple[str, str | None]:
    """(post text, shared link) from a Facebook post's data and attachments lists."""
    texts = [_scalar(d.get("post")) for d in _list(post.get("data")) if isinstance(d, dict)]
    link = None
    for attachment in _list(post.get("attachments")):
        for item in _list(attachment.get("data") if isinstance(attachment, dict) else None):
            context = item.get("external_context") if isinstance(item, dict) else None
            if isinstance(context, dict) and context.get("url"):
                link = link or _scalar(context["url"])
    return "\n\n".join(t for t in texts if t), link


def _facebook_entry(post: dict[str, Any], name: str, where: str) -> Entry | None:
    """A Facebook post as an Entry; posts with neither text nor a link give None."""
    stamp = post.get("timestamp")
    if not isinstance(stamp, (int, float)) or isinstance(stamp, bool):
        raise _fail(name, f'{where}: missing numeric "timestamp"')
    try:
        published = datetime.fromtimestamp(stamp, timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise _fail(name, f"{where}: bad timestamp {stamp!r}") from None
    body, link = _facebook_parts(post)
    if not body and not link:
        return None
    text = _with_link(body, link)
    return Entry(
        guid=f"facebook:{int(stamp)}:{_content_hash(body or link or '')}",
        url=None,
        title=_title(text),
        text=text,
        published_at=published,
    )


def _facebook_posts(doc: Any, name: str) -> list[Any]:
    """The list of posts in a Facebook posts file (a bare list, or the list inside an object)."""
    if isinstance(doc, list):
        return doc
    lists = [v for v in doc.values() if isinstance(v, list)] if isinstance(doc, dict) else []
    if len(lists) != 1:
        raise _fail(name, "not a Facebook posts file (expected a list of posts)")
    return lists[0]


def _parse_facebook(tree: _Tree, names: list[str]) -> _Parsed:
    """Facebook posts files, with mojibake repaired (the export records no audience)."""
    parsed = _Parsed(meta=FeedMeta(title="Facebook export"))
    for name in names:
        for i, post in enumerate(_facebook_posts(_repaired_json(tree, name), name)):
            entry = _facebook_entry(_obj(post, name, f"item {i}"), name, f"item {i}")
            if entry is not None:
                parsed.entries.append(entry)
    return parsed


# --------------------------------------------------------------------------------------------
# Plain import: .csv or .jsonl with id,url,title,text,published_at,visibility.
# --------------------------------------------------------------------------------------------

_IMPORT_REQUIRED = ("id", "text")
_IMPORT_COLUMNS = "id,url,title,text,published_at,visibility"


def _jsonl_rows(tree: _Tree, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ("line N", object) for each non-blank line of a JSON Lines member."""
    for number, line in enumerate(_text(tree, name).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            row = _obj(json.loads(line), name, where)
        except json.JSONDecodeError as exc:
            raise _fail(name, f"{where}: not valid JSON ({exc.msg})") from None
        if missing := [k for k in _IMPORT_REQUIRED if k not in row]:
            raise _fail(name, f"{where}: missing key(s) {', '.join(missing)} (expected {_IMPORT_COLUMNS})")
        yield where, row


def _import_rows(tree: _Tree, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Rows of an import file, CSV or JSON Lines by its name."""
    if name.lower().endswith(".jsonl"):
        return _jsonl_rows(tree, name)
    return _csv_rows(tree, name, _IMPORT_REQUIRED)


def _import_entry(row: dict[str, Any], name: str, where: str) -> Entry:
    """One import row as an Entry."""
    row_id = _scalar(row.get("id"))
    if not row_id:
        raise _fail(name, f"{where}: empty id")
    text = _scalar(row.get("text"))
    return Entry(
        guid=f"import:{row_id}",
        url=_scalar(row.get("url")) or None,
        title=_scalar(row.get("title")) or _title(text),
        text=text,
        published_at=_iso_date(row.get("published_at"), name, where, "published_at"),
    )


def _parse_import(tree: _Tree, names: list[str]) -> _Parsed:
    """Plain CSV/JSONL import; rows whose visibility is not empty or "public" are counted."""
    parsed = _Parsed(meta=FeedMeta(title=f"Import of {posixpath.basename(names[0])}"))
    for name in names:
        for where, row in _import_rows(tree, name):
            entry = _import_entry(row, name, where)
            if _scalar(row.get("visibility")).lower() in ("", "public"):
                parsed.entries.append(entry)
            else:
                parsed.skipped_private += 1
    return parsed


def _is_import(tree: _Tree, name: str) -> bool:
    """True if a .csv/.jsonl member inside a folder or zip has the import columns."""
    try:
        next(iter(_import_rows(tree, name)), None)
    except ExportError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Detection and the public entry point.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Format:
    """A platform export: the member names that identify it and its parser."""

    label: str
    pattern: re.Pattern[str]
    parse: Callable[[_Tree, list[str]], _Parsed]


_FORMATS = (
    _Format("X/Twitter", re.compile(r"(?:^|/)tweets?(?:-part\d+)?\.js$"), _parse_twitter),
    _Format("Mastodon", re.compile(r"(?:^|/)outbox\.json$"), _parse_mastodon),
    _Format("LinkedIn", re.compile(r"(?:^|/)shares\.csv$", re.IGNORECASE), _parse_linkedin),
    _Format("Facebook", re.compile(r"(?:^|/)your_posts(?:__check_ins__photos_and_videos)?_\d+\.json$"),
            _parse_facebook),
)
_LOOKED_FOR = "data/tweets.js, outbox.json, Shares.csv, your_posts_1.json, or an id,text .csv/.jsonl"


def _part_key(name: str) -> tuple[str, int, str]:
    """Sort key putting numbered parts in numeric order within their folder."""
    number = re.findall(r"(\d+)\.\w+$", name)
    return posixpath.dirname(name), int(number[0]) if number else -1, name


def _visible(name: str) -> bool:
    """False for macOS zip litter (__MACOSX/, ._ resource forks)."""
    return not (name.startswith("__MACOSX/") or posixpath.basename(name).startswith("._"))


def _parse_tree(tree: _Tree) -> _Parsed:
    """Detect the export kind from the member names and run its parser."""
    names = [n for n in tree.names if _visible(n)]
    found = [(f, sorted((n for n in names if f.pattern.search(n)), key=_part_key)) for f in _FORMATS]
    found = [(f, matched) for f, matched in found if matched]
    if len(found) > 1:
        kinds = ", ".join(f.label for f, _ in found)
        raise _fail(tree.label, f"holds more than one kind of export ({kinds}); point at one of them")
    if found:
        fmt, matched = found[0]
        return fmt.parse(tree, matched)
    imports = [n for n in names if n.lower().endswith((".csv", ".jsonl"))]
    if not tree.single:
        imports = [n for n in imports if _is_import(tree, n)]
    if not imports:
        raise _fail(tree.label, f"no known export found (looked for {_LOOKED_FOR})")
    return _parse_import(tree, sorted(imports))


def _dedup(entries: list[Entry]) -> list[Entry]:
    """Drop later entries whose guid was already seen (overlapping parts or archives)."""
    seen: set[str | None] = set()
    unique = []
    for entry in entries:
        if entry.guid not in seen:
            seen.add(entry.guid)
            unique.append(entry)
    return unique


def read_export(path: str | Path, *, max_total_bytes: int = 512 * 2**20,
                max_member_bytes: int = 64 * 2**20, max_members: int = MAX_MEMBERS) -> Batch:
    """Read one platform export (file, unpacked folder or .zip) into a Batch of its public posts."""
    limits = _Limits(total=max_total_bytes, member=max_member_bytes, members=max_members)
    with _open_tree(Path(path), limits) as tree:
        parsed = _parse_tree(tree)
    return Batch(status="ok", entries=_dedup(parsed.entries), meta=parsed.meta,
                 skipped_private=parsed.skipped_private)
