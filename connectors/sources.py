"""Source specs (what the user writes in the roster) and reading every source of a run.

A spec is a plain URL or `kind:rest` (mastodon:@user@instance, bsky:handle, rsshub:/route,
export:path). Each kind is one `Connector` (a small protocol: `resolve` a spec to the URL or
path stored in `sources.url`, and `read` that source into a `Batch` using the run's shared
`Fetcher`). `CONNECTORS` maps a kind to the module that holds its connector, imported only when
that kind is used. A failure in one source is a `Batch(status="failed")`, never an exception.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from connectors.http import FetchLimits, FetchRequest, FetchResult, Fetcher
from guanxi.errors import GuanxiError
from guanxi.memory import gc_paused
from guanxi.models import Batch, Entry, FeedMeta


class SpecError(GuanxiError, ValueError):
    """A source spec that cannot be understood; one line naming the spec."""


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """Per-kind settings from the config ([rsshub] base_url, [mastodon] scheme, [bluesky] appview)."""

    rsshub_base_url: str = "https://rsshub.app"
    mastodon_scheme: str = "https"
    bsky_appview: str = "https://public.api.bsky.app"


@dataclass(frozen=True, slots=True)
class ResolvedSpec:
    kind: str  # feed | mastodon | bsky | rsshub | export
    url: str   # what the connector reads: an http(s) URL, or a filesystem path for exports


@dataclass(frozen=True, slots=True)
class SourceTask:
    """What to read for one source, with the validators from its last successful fetch."""

    source_id: int
    kind: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    # What is stored from this source (see entry_stamp); its entries the workers need not tag.
    known: frozenset[int] = frozenset()


def entry_stamp(identity: str, content_hash: str) -> int:
    """One stored entry (its identity key within its source and its content hash) as an int.

    Python's hash: the same in the forked worker processes as in the process that made the
    stamps. A collision costs nothing but a tag made later, in the storing process.
    """
    return hash((identity, content_hash))


class Connector(Protocol):
    """One source kind. `network` connectors get the run's shared Fetcher; others get None."""

    kind: str
    network: bool

    def resolve(self, value: str, spec: str, *, options: SourceOptions, base_dir: str | None) -> str:
        """The URL (or path) to store for `kind:value`; raise SpecError if it makes no sense."""
        ...

    async def read(self, task: SourceTask, fetcher: Fetcher | None) -> Batch:
        """Read one source; every failure comes back as a failed Batch."""
        ...


# kind -> module with a module-level CONNECTOR; "feed" is also what a plain URL is.
CONNECTORS: dict[str, str] = {
    "feed": "connectors.sources",
    "rsshub": "connectors.rsshub",
    "mastodon": "connectors.mastodon",
    "bsky": "connectors.bluesky",
    "export": "connectors.sources",
}


def connector_for(kind: str) -> Connector:
    """The connector of a kind (KeyError for an unknown kind)."""
    module = CONNECTORS[kind]
    if module == __name__:
        return _LOCAL[kind]
    return importlib.import_module(module).CONNECTOR


def resolve_spec(spec: str, *, rsshub_base_url: str | None = None, base_dir: str | None = None,
                 options: SourceOptions | None = None) -> ResolvedSpec:
    """Understand a roster feed entry."""
    options = options or SourceOptions()
    if rsshub_base_url is not None and options.rsshub_base_url != rsshub_base_url:
        options = SourceOptions(rsshub_base_url, options.mastodon_scheme, options.bsky_appview)
    spec = spec.strip()
    if spec.lower().startswith(("http://", "https://")):
        return ResolvedSpec("feed", spec)
    kind, sep, rest = spec.partition(":")
    kind = kind.lower()
    if not sep or not rest:
        raise SpecError(f"source: cannot understand {spec!r}: expected a URL or kind:value")
    if kind not in CONNECTORS or kind == "feed":
        raise SpecError(f"source: unknown kind {kind!r} in {spec!r} "
                        "(use a URL, mastodon:, bsky:, rsshub: or export:)")
    return ResolvedSpec(kind, connector_for(kind).resolve(rest, spec, options=options, base_dir=base_dir))


def fetch_streaming(tasks: Sequence[SourceTask], limits: FetchLimits = FetchLimits()) -> Iterator[tuple[int, Batch]]:
    """Read every source on one client in this process, yielding (source_id, Batch) as each is
    read, so the caller can store some while the rest are still on the network.

    The event loop runs in a thread of its own: while the caller stores or tags (the GIL taken
    in turns), fetches go on and none of their timeouts waits on it. Parsing happens on that
    thread and tagging is left to the caller (which tags only new and changed posts), so this
    suits runs with few bodies to read: a re-check that mostly hears 304, or a few sources.
    """
    import queue
    import threading

    out: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()  # the caller gave up: read no further source
    ready: list[tuple[int, Batch]] = []

    def hand_over() -> None:
        out.put(ready.copy())
        ready.clear()

    async def one(task: SourceTask, fetcher: Fetcher) -> None:
        if not stop.is_set():
            batch = await _read_one(task, fetcher)
            if not ready:  # sources read in the same turn of the loop cross in one put: waking
                asyncio.get_running_loop().call_soon(hand_over)  # the caller costs CPU each time
            ready.append((task.source_id, batch))

    async def run() -> None:
        async with Fetcher(limits) as fetcher:
            await asyncio.gather(*(one(t, fetcher) for t in tasks))
        if ready:
            hand_over()

    def loop() -> None:
        try:
            asyncio.run(run())
        finally:
            out.put(None)

    thread = threading.Thread(target=loop, name="guanxi-fetch", daemon=True)
    thread.start()
    unread = {t.source_id: t for t in tasks}
    try:
        while (items := out.get()) is not None:
            for item in items:
                unread.pop(item[0], None)
                yield item
    finally:
        stop.set()
    thread.join()
    yield from _unread_failed(unread, "fetch: the fetching thread stopped before reading this source")


def _unread_failed(unread: dict[int, SourceTask], error: str) -> Iterator[tuple[int, Batch]]:
    for sid, task in unread.items():
        yield sid, Batch(status="failed", final_url=task.url, error=error)


# --- many sources: fetch, parse and tag in worker processes ----------------------------------

def fetch_in_processes(tasks: Sequence[SourceTask], limits: FetchLimits, *, workers: int,
                       taxonomy_path: str | None = None) -> Iterator[tuple[int, Batch]]:
    """Read the sources in `workers` processes and yield (source_id, Batch) as each is ready.

    Each process runs its own client with its share of the concurrency limits and takes the
    next unread source whenever one of its fetches is done, so a process busy tagging Chinese
    posts simply takes fewer. It parses and tags each feed as it arrives: the CPU work uses
    every core, no feed body crosses between processes, and the caller can store batches while
    the rest are still on the network. A source whose process died comes back as failed.

    A process reads at most RECYCLE_AFTER_SOURCES sources, then a spare takes over: what a process
    allocates grows with what it has read (its bounded caches filling, the allocator's fragments).
    The spares are forked here at the start and wait for their turn: forked later, from this
    process's heap as storing has changed it, each would keep a copy of every page written since.
    """
    import multiprocessing
    import queue

    ctx = multiprocessing.get_context("fork")  # tasks and tagger reach the children as they are
    # Loaded once here and shared by every process; the Chinese segmenter too when some source
    # has never been read (its posts will be new), not on a re-check that may find nothing new.
    tag = batch_tagger(taxonomy_path, warm_up=any(not (t.etag or t.last_modified) for t in tasks))
    # Each process needs at least one of the per-host and global slots: never more in all.
    workers = max(1, min(workers, len(tasks), limits.per_host, limits.concurrency))
    share = replace(limits, concurrency=max(1, limits.concurrency // workers),
                    per_host=max(1, limits.per_host // workers))
    taken = ctx.Value("q", 0)  # the index of the next unread source, shared by the processes
    # Unbounded, so that a worker never stalls its fetches (and their timeouts) on a busy store;
    # the storing process takes batches faster than the workers make them.
    out = ctx.Queue()
    turns = [ctx.Event() for _ in range(max(workers, -(-len(tasks) // RECYCLE_AFTER_SOURCES)))]
    procs = [ctx.Process(target=_fetch_process, args=(tasks, taken, share, tag, out, turn, RECYCLE_AFTER_SOURCES),
                         daemon=True) for turn in turns]
    for turn in turns[:workers]:  # the first ones start at once; the spares wait
        turn.set()
    # What exists now (the tagger above all) stays shared: no process's collections visit it, as
    # a visit writes to the pages that hold it and so copies them (this process's too, until
    # the workers are done).
    gc.freeze()
    try:
        for proc in procs:
            proc.start()
    except BaseException:
        gc.unfreeze()
        raise
    spares = workers  # the index of the next spare
    unread = {t.source_id: t for t in tasks}
    running = workers
    try:
        while running:
            try:
                item = out.get(timeout=1.0)
            except queue.Empty:
                if any(proc.is_alive() for proc, turn in zip(procs, turns) if turn.is_set()):
                    continue
                break  # every process has gone, some without saying so
            if item is None:  # a process is done: it read its share, or nothing is left
                if spares < len(procs) and taken.value < len(tasks):
                    turns[spares].set()
                    spares += 1
                else:
                    running -= 1
                continue
            unread.pop(item[0], None)
            yield item
    finally:
        gc.unfreeze()
        for proc, turn in zip(procs, turns):
            # Stopped early, or a spare never needed: stop it. A process that said it is done is
            # left to end by itself (terminated then, its own clean-up would be cut off).
            if running or not turn.is_set():
                proc.terminate()
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
    yield from _unread_failed(unread, "fetch: the fetching process stopped before reading this source")


# Sources one fetching process reads before a spare takes over (about a minute of work): it then
# holds about 45 MB of its own, where one process reading 5,000 sources grew to 70 MB.
RECYCLE_AFTER_SOURCES = 1_000


def _fetch_process(tasks: Sequence[SourceTask], taken, limits: FetchLimits,
                   tag: Callable[[Batch, frozenset[int]], Batch], out, turn, quota: int) -> None:
    """A worker process: once its `turn` is set, read sources until none is left or it has read
    `quota` of them, send each tagged Batch back, then None. If the storing process dies (even by
    SIGKILL), this one stops too instead of lingering."""
    import os
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not a handler inherited from the parent (Prefect's)
    parent = os.getppid()
    while not turn.wait(1.0):
        if os.getppid() != parent:
            os._exit(1)
    read = [0]

    def take() -> int:
        if os.getppid() != parent:
            os._exit(1)
        if read[0] >= quota:
            return len(tasks)  # its share is read: the lane ends
        read[0] += 1
        with taken.get_lock():
            taken.value += 1
            return taken.value - 1

    async def lane(fetcher: Fetcher) -> None:
        while (i := take()) < len(tasks):
            out.put((tasks[i].source_id, tag(await _read_one(tasks[i], fetcher), tasks[i].known)))

    async def run() -> None:
        async with Fetcher(limits) as fetcher:
            await asyncio.gather(*(lane(fetcher) for _ in range(limits.concurrency)))

    try:
        asyncio.run(run())
    finally:
        out.put(None)


ZH_WARM_UP = "今天团队的项目上线了"  # a first Chinese post loads the segmenter's dictionary


def batch_tagger(taxonomy_path: str | None, *,
                 warm_up: bool = False) -> Callable[[Batch, frozenset[int]], Batch]:
    """Tag a Batch's entries with the taxonomy loaded once here (the store checks its
    fingerprint), and drop the raw HTML: text and image are extracted, so it is not stored.

    An entry among the source's `known` stamps (stored, same identity, same words) is left
    untagged: the store keeps its row and its tags as they are, so tagging it would be wasted.
    (Were it needed after all, the store tags an untagged post itself.)

    With `warm_up` the Chinese segmenter and the whole of its dictionary are loaded here too (about
    0.5 s of CPU from the disk cache): made before the fetching processes fork, they are loaded
    once and their memory shared, not once per process.
    """
    from transforms.identity import content_hash, identity_key
    from transforms.tagging import load_taxonomy, read_dictionary, tag_post, taxonomy_fingerprint

    # No collections while it loads: it makes a million long-lived objects (the segmenter's
    # dictionary above all), and the collections their making sets off, each scanning all made
    # so far, cost a quarter of the load's CPU (~0.25 s).
    with gc_paused():
        taxonomy = load_taxonomy(taxonomy_path)
        fingerprint = taxonomy_fingerprint(taxonomy)
        if warm_up:
            tag_post("", ZH_WARM_UP, taxonomy=taxonomy)
            read_dictionary()  # a cached state is otherwise read a post's characters at a time

    def stored(e: Entry, known: frozenset[int]) -> bool:
        if not known:
            return False
        key, chash = identity_key(e), content_hash(e.title, e.text)
        # A feed repeating a guid stores the repeat under guid#hash (guanxi.ingest.records_for).
        return entry_stamp(key, chash) in known or entry_stamp(f"{key}#{chash[:12]}", chash) in known

    def tag(batch: Batch, known: frozenset[int] = frozenset()) -> Batch:
        if batch.status == "ok":
            batch.entries = [replace(e, html=None) if stored(e, known) else
                             replace(e, html=None, tagged_with=fingerprint,
                                     tags=tag_post(e.title, e.text, taxonomy=taxonomy))
                             for e in batch.entries]
        return batch

    return tag


async def _read_one(task: SourceTask, fetcher: Fetcher) -> Batch:
    from guanxi.privacy import redact_text, redact_url

    try:
        conn = connector_for(task.kind)
        batch = await conn.read(task, fetcher if conn.network else None)
    except Exception as exc:  # a connector bug must not fail the run; record it loudly
        batch = Batch(status="failed", final_url=task.url,
                      error=f"{task.kind}: unexpected {type(exc).__name__}: {exc}".splitlines()[0][:300])
    # What we learned goes to the store and logs: never with a URL's credentials in it.
    batch.error = redact_text(batch.error)
    batch.final_url = redact_url(batch.final_url) if batch.final_url else batch.final_url
    return batch


def batch_from_failure(result: FetchResult) -> Batch:
    """A Batch for a fetch that brought nothing to parse: not modified, gone or failed."""
    common = dict(final_url=result.final_url, permanent_redirect=result.permanent_redirect,
                  http_status=result.status_code, retry_after_s=result.retry_after_s)
    if result.not_modified:
        return Batch(status="not_modified", **common)
    status = "gone" if result.status_code == 410 else "failed"
    return Batch(status=status, error=result.error or "fetch: no body", **common)


def batch_from_fetch(result: FetchResult) -> Batch:
    """Turn an HTTP result into a Batch: parse feed bytes, or record why there is nothing."""
    if result.not_modified or result.error or result.body is None:
        return batch_from_failure(result)
    from connectors.feed import FeedError, parse_feed  # lxml and feedparser: not for a 304
    from guanxi.privacy import redact_url

    common = dict(final_url=result.final_url, permanent_redirect=result.permanent_redirect,
                  http_status=result.status_code, retry_after_s=result.retry_after_s)
    try:
        # Relative links resolve against the URL without its credentials, so none reach a post.
        meta, entries = parse_feed(result.body, content_type=result.content_type,
                                   url=redact_url(result.final_url))
    except FeedError as exc:
        return Batch(status="failed", error=str(exc), **common)
    except Exception as exc:  # a parser bug must not fail the run; record it loudly
        return Batch(status="failed", error=f"parse: unexpected {type(exc).__name__}: {exc}"
                     .splitlines()[0][:300], **common)
    meta = FeedMeta(title=meta.title, link=meta.link, etag=result.headers.get("etag"),
                    last_modified=result.headers.get("last-modified"))
    return Batch(status="ok", entries=entries, meta=meta, **common)


class FeedConnector:
    """A plain RSS/Atom/RDF/JSON Feed URL."""

    kind, network = "feed", True

    def resolve(self, value: str, spec: str, *, options: SourceOptions, base_dir: str | None) -> str:
        return spec

    async def read(self, task: SourceTask, fetcher: Fetcher | None) -> Batch:
        assert fetcher is not None
        return batch_from_fetch(await fetcher.fetch(
            FetchRequest(task.url, etag=task.etag, last_modified=task.last_modified)))


class ExportConnector:
    """A platform export on disk (file, folder or zip); read by connectors.exports when present."""

    kind, network = "export", False

    def resolve(self, value: str, spec: str, *, options: SourceOptions, base_dir: str | None) -> str:
        from pathlib import Path

        p = Path(value).expanduser()
        if not p.is_absolute() and base_dir:
            p = Path(base_dir) / p
        return str(p)

    async def read(self, task: SourceTask, fetcher: Fetcher | None) -> Batch:
        return read_export_source(task)


def read_export_source(task: SourceTask) -> Batch:
    """Read a platform export file/folder/zip; any problem becomes a failed Batch."""
    try:
        from connectors.exports import read_export
    except ImportError:
        return Batch(status="failed", error="export: export files are not supported in this build")
    try:
        return read_export(task.url)
    except ValueError as exc:
        return Batch(status="failed", error=str(exc).splitlines()[0])
    except OSError as exc:
        return Batch(status="failed", error=f"export: cannot read {task.url}: {exc.strerror or exc}")


_LOCAL: dict[str, Connector] = {"feed": FeedConnector(), "export": ExportConnector()}
