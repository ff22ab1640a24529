"""Loading and validating guanxi.toml (see CONTRACT: one TOML file, paths relative to it)."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from guanxi.errors import GuanxiError

DEFAULT_CONFIG_NAME = "guanxi.toml"
SMTP_PASSWORD_ENV = "GUANXI_SMTP_PASSWORD"
MAX_STORE_WAIT_S = 3600.0  # a writer never waits longer than an hour for the store file


class ConfigError(GuanxiError, ValueError):
    """A config problem, with a one-line message naming the file and key."""


@dataclass(frozen=True, slots=True)
class PersonConfig:
    name: str
    feeds: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    email: str | None = None
    group: str | None = None
    cadence_days: int | None = None
    language: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class DigestConfig:
    recipient: str | None = None
    timezone: str = "UTC"
    send_at: str = "07:30"
    out_dir: Path = Path("digests")
    max_items: int = 10
    max_per_person: int = 2
    language: str | None = None  # None: follow each post's language
    quiet_day: str = "note"  # "note" | "skip"
    starters: Path | None = None  # a user's starter templates, laid over reports/starters.toml
    embed_images: bool = False    # the copy on disk carries its thumbnails (fetched once) inside


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str = "localhost"
    port: int = 25
    security: str = "none"  # none | starttls | tls
    username: str | None = None
    sender: str | None = None
    timeout_s: float = 30.0
    ca_file: Path | None = None  # extra CA bundle to trust (a private relay, a test server)
    retries: int = 3             # extra attempts after a transient failure (4xx, refused)
    retry_delay_s: float = 5.0   # first backoff; doubles each attempt

    @property
    def password(self) -> str | None:
        """The SMTP password, read from the environment only (never from the file)."""
        return os.environ.get(SMTP_PASSWORD_ENV)


@dataclass(frozen=True, slots=True)
class IngestConfig:
    every_minutes: int = 60
    concurrency: int = 32
    per_host: int = 4
    timeout_s: float = 20.0
    max_body_bytes: int = 15 * 2**20
    user_agent: str = "Guanxi/0.1 (+https://example.invalid/guanxi)"
    parse_workers: int | None = None  # processes that parse and tag; None: one per core
    max_entries_per_feed: int = 500  # the newest N entries of one feed per run; the rest are skipped


@dataclass(frozen=True, slots=True)
class OrchestrationConfig:
    task_runner: str = "thread"   # "thread" (in-process) | "dask" (prefect-dask)
    dask_address: str | None = None  # a running Dask scheduler; None: a local cluster per run
    fetch_chunks: int = 1         # how many fetch tasks the due sources are split into
    deployment_name: str = "guanxi"


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    store_path: Path
    digest: DigestConfig = field(default_factory=DigestConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    people: tuple[PersonConfig, ...] = ()
    rsshub_base_url: str = "https://rsshub.app"
    calendar_ics: str | None = None
    taxonomy_path: Path | None = None
    mastodon_scheme: str = "https"
    bsky_appview: str = "https://public.api.bsky.app"

    @property
    def source_options(self):
        """Per-kind source settings for connectors.sources (imported lazily: the CLI stays fast)."""
        from connectors.sources import SourceOptions

        return SourceOptions(self.rsshub_base_url, self.mastodon_scheme, self.bsky_appview)
    store_wait_s: float = 60.0        # [store] wait_seconds: how long a writer waits for the file
    snapshot_dir: Path | None = None  # [store] snapshot_dir: Parquet copies after each ingest
    retention_days: int | None = None  # [store] retention_days: prune older posts after each ingest
    orchestration: OrchestrationConfig = field(default_factory=OrchestrationConfig)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.digest.timezone)


def find_config_path(explicit: str | None) -> Path:
    """The config path: --config, else $GUANXI_CONFIG, else ./guanxi.toml."""
    raw = explicit or os.environ.get("GUANXI_CONFIG") or DEFAULT_CONFIG_NAME
    return Path(raw).expanduser()


def load_config(explicit: str | None = None) -> Config:
    """Find, read and validate the config; raise ConfigError with a one-line message."""
    path = find_config_path(explicit)
    return parse_config(_read_toml(path), path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config: file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config: {path} is a folder, not a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"config: {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path}: invalid TOML: {exc}") from None


class _Section:
    """Typed access to one TOML table that names the file and key in every error."""

    def __init__(self, data: Any, where: str, path: Path):
        if not isinstance(data, dict):
            raise ConfigError(f"config: {path}: [{where}] must be a table")
        self.data, self.where, self.path = data, where, path

    def _fail(self, key: str, msg: str) -> ConfigError:
        return ConfigError(f"config: {self.path}: {self.where}.{key} {msg}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        if key not in self.data:
            return default
        value = self.data[key]
        # bool is an int subclass in Python; a port of `true` is a mistake worth naming.
        if isinstance(value, bool) and kind is not bool:
            raise self._fail(key, f"must be {_kind_name(kind)}, not a boolean")
        if not isinstance(value, kind):
            raise self._fail(key, f"must be {_kind_name(kind)}, got {type(value).__name__}")
        return value

    def str_list(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise self._fail(key, "must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def positive_int(self, key: str, default: int | None) -> int | None:
        value = self.get(key, int, default)
        if value is not None and value <= 0:
            raise self._fail(key, "must be a positive whole number")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self.get(key, str, default)
        if value not in options:
            raise self._fail(key, f"must be one of {', '.join(options)}; got {value!r}")
        return value

    def unknown(self, known: set[str]) -> None:
        extra = sorted(set(self.data) - known)
        if extra:
            raise self._fail(extra[0], "is not a known setting")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "a whole number", float: "a number", list: "a list",
             dict: "a table", bool: "true or false"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def parse_config(data: dict[str, Any], path: Path) -> Config:
    """Validate a parsed TOML document into a Config."""
    base = path.resolve().parent
    top = _Section(data, "config", path)
    top.unknown({"store", "digest", "smtp", "ingest", "people", "roster", "rsshub", "calendar",
                 "taxonomy", "mastodon", "bluesky", "orchestration"})

    store = _Section(data.get("store", {}), "store", path)
    store.unknown({"path", "wait_seconds", "snapshot_dir", "retention_days"})
    store_path = _resolve(base, store.get("path", str, "guanxi.duckdb"))
    wait_s = float(store.get("wait_seconds", (int, float), 60))
    if not 0 <= wait_s <= MAX_STORE_WAIT_S:
        raise store._fail("wait_seconds", f"must be between 0 and {MAX_STORE_WAIT_S:g}; got {wait_s:g}")
    snapshot_dir = store.get("snapshot_dir", str)
    orchestration = _parse_orchestration(_Section(data.get("orchestration", {}), "orchestration", path))

    digest = _parse_digest(_Section(data.get("digest", {}), "digest", path), base)
    smtp = _parse_smtp(_Section(data.get("smtp", {}), "smtp", path), base)
    ingest = _parse_ingest(_Section(data.get("ingest", {}), "ingest", path))

    rsshub = _Section(data.get("rsshub", {}), "rsshub", path)
    rsshub.unknown({"base_url"})
    mastodon = _Section(data.get("mastodon", {}), "mastodon", path)
    mastodon.unknown({"scheme"})
    mastodon_scheme = mastodon.get("scheme", str, "https").lower()
    if mastodon_scheme not in ("http", "https"):
        raise mastodon._fail("scheme", 'must be "https" or "http"')
    bluesky = _Section(data.get("bluesky", {}), "bluesky", path)
    bluesky.unknown({"appview"})
    bsky_appview = bluesky.get("appview", str, "https://public.api.bsky.app").rstrip("/")
    if not re.match(r"^https?://", bsky_appview):
        raise bluesky._fail("appview", "must be an http(s) URL")
    calendar = _Section(data.get("calendar", {}), "calendar", path)
    calendar.unknown({"ics"})
    ics = calendar.get("ics", str)
    if ics and not re.match(r"^https?://", ics):
        ics = str(_resolve(base, ics))
    taxonomy = _Section(data.get("taxonomy", {}), "taxonomy", path)
    taxonomy.unknown({"path"})
    taxonomy_path = taxonomy.get("path", str)

    people_raw = top.get("people", list, [])
    roster = top.get("roster", str)
    if roster:
        roster_path = _resolve(base, roster)
        roster_data = _read_toml(roster_path)
        people_raw = people_raw + _Section(roster_data, "roster", roster_path).get("people", list, [])
        people = _parse_people(people_raw, path, roster_path)
    else:
        people = _parse_people(people_raw, path, path)

    return Config(
        path=path.resolve(),
        store_path=store_path,
        digest=digest,
        smtp=smtp,
        ingest=ingest,
        people=people,
        rsshub_base_url=rsshub.get("base_url", str, "https://rsshub.app").rstrip("/"),
        calendar_ics=ics,
        taxonomy_path=_resolve(base, taxonomy_path) if taxonomy_path else None,
        mastodon_scheme=mastodon_scheme,
        bsky_appview=bsky_appview,
        store_wait_s=wait_s,
        snapshot_dir=_resolve(base, snapshot_dir) if snapshot_dir else None,
        retention_days=store.positive_int("retention_days", None),
        orchestration=orchestration,
    )


def _parse_orchestration(s: _Section) -> OrchestrationConfig:
    s.unknown({"task_runner", "dask_address", "fetch_chunks", "deployment_name"})
    runner = s.choice("task_runner", ("thread", "dask"), "thread")
    name = s.get("deployment_name", str, "guanxi").strip()
    if not re.match(r"^[\w.-]+$", name):
        raise s._fail("deployment_name", f"must be letters, digits, '.', '_' or '-'; got {name!r}")
    return OrchestrationConfig(
        task_runner=runner,
        dask_address=s.get("dask_address", str),
        # With Dask the default spreads fetching over a few tasks; in-process one task is best.
        fetch_chunks=s.positive_int("fetch_chunks", 4 if runner == "dask" else 1),
        deployment_name=name,
    )


def _resolve(base: Path, raw: str) -> Path:
    p = Path(raw).expanduser()
    return p if p.is_absolute() else (base / p)


def _parse_digest(s: _Section, base: Path) -> DigestConfig:
    s.unknown({"recipient", "timezone", "send_at", "out_dir", "max_items", "max_per_person",
               "language", "quiet_day", "starters", "embed_images"})
    tz = s.get("timezone", str, "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise s._fail("timezone", f"is not an IANA time zone name: {tz!r}") from None
    send_at = s.get("send_at", str, "07:30")
    if not _TIME_RE.match(send_at):
        raise s._fail("send_at", f'must be "HH:MM" (24-hour); got {send_at!r}')
    return DigestConfig(
        recipient=s.get("recipient", str),
        timezone=tz,
        send_at=send_at,
        out_dir=_resolve(base, s.get("out_dir", str, "digests")),
        max_items=s.positive_int("max_items", 10),
        max_per_person=s.positive_int("max_per_person", 2),
        language=s.choice("language", ("auto", "en", "zh"), "auto").replace("auto", "") or None,
        quiet_day=s.choice("quiet_day", ("note", "skip"), "note"),
        starters=_resolve(base, s.get("starters", str)) if s.get("starters", str) else None,
        embed_images=s.get("embed_images", bool, False),
    )


def _parse_smtp(s: _Section, base: Path) -> SmtpConfig:
    if "password" in s.data:
        raise s._fail("password", f"must not be in the file; set {SMTP_PASSWORD_ENV} instead")
    s.unknown({"host", "port", "security", "username", "sender", "timeout_s", "ca_file", "retries",
               "retry_delay_s"})
    port = s.positive_int("port", None)
    security = s.choice("security", ("none", "starttls", "tls"), "none")
    return SmtpConfig(
        host=s.get("host", str, "localhost"),
        port=port or {"none": 25, "starttls": 587, "tls": 465}[security],
        security=security,
        username=s.get("username", str),
        sender=s.get("sender", str),
        timeout_s=float(s.get("timeout_s", (int, float), 30.0)),
        ca_file=_resolve(base, s.get("ca_file", str)) if s.get("ca_file", str) else None,
        retries=_non_negative(s, "retries", 3),
        retry_delay_s=float(_non_negative(s, "retry_delay_s", 5.0, (int, float))),
    )


def _non_negative(s: _Section, key: str, default, kind=int):
    value = s.get(key, kind, default)
    if value < 0:
        raise s._fail(key, "must not be negative")
    return value


def _parse_ingest(s: _Section) -> IngestConfig:
    s.unknown({"every_minutes", "concurrency", "per_host", "timeout_s", "max_body_bytes",
               "user_agent", "parse_workers", "max_entries_per_feed"})
    d = IngestConfig()
    return IngestConfig(
        every_minutes=s.positive_int("every_minutes", d.every_minutes),
        concurrency=s.positive_int("concurrency", d.concurrency),
        per_host=s.positive_int("per_host", d.per_host),
        timeout_s=float(s.get("timeout_s", (int, float), d.timeout_s)),
        max_body_bytes=s.positive_int("max_body_bytes", d.max_body_bytes),
        user_agent=s.get("user_agent", str, d.user_agent),
        parse_workers=s.positive_int("parse_workers", None),
        max_entries_per_feed=s.positive_int("max_entries_per_feed", d.max_entries_per_feed),
    )


def _parse_people(items: list[Any], config_path: Path, path: Path) -> tuple[PersonConfig, ...]:
    people: list[PersonConfig] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        s = _Section(item, f"people[{i}]", path)
        s.unknown({"name", "feeds", "aliases", "email", "group", "cadence_days", "language",
                   "notes"})
        name = (s.get("name", str) or "").strip()
        if not name:
            raise s._fail("name", "is missing")
        if name in seen:
            raise s._fail("name", f"repeats {name!r}: each person appears once")
        seen.add(name)
        language = s.get("language", str)
        if language not in (None, "en", "zh"):
            raise s._fail("language", f'must be "en" or "zh"; got {language!r}')
        people.append(PersonConfig(
            name=name,
            feeds=s.str_list("feeds"),
            aliases=s.str_list("aliases"),
            email=s.get("email", str),
            group=s.get("group", str),
            cadence_days=s.positive_int("cadence_days", None),
            language=language,
            notes=s.get("notes", str),
        ))
    return tuple(people)
