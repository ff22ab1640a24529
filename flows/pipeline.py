"""Prefect flows `ingest`, `digest` and `daily`: thin tasks over the plain functions.

This package is the only place that imports Prefect. Fetching is batched (one task, or one per
chunk when Dask spreads it: never one task per feed; thousands of tiny tasks cost more than the
fetches). Every flow run holds the store's run lock (guanxi.runlock) so runs never overlap, and
publishes artifacts: a markdown summary and a table of source health.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from guanxi.config import Config, IngestConfig, load_config
from guanxi.errors import GuanxiError
from guanxi.runlock import run_lock
from guanxi.store import StoreBusy


def _transient(task, task_run, state) -> bool:
    """Retry a busy store or an unexpected (network, worker) failure; never bad input."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # noqa: BLE001 - we only classify it
            exc = raised
    return isinstance(exc, StoreBusy) or not isinstance(exc, GuanxiError)


def redact_url(url: str) -> str:
    """A URL fit for logs and artifacts: no user:password, no query string (tokens hide there)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


def _config(config_path: str | None) -> Config:
    return load_config(config_path)


# --- tasks: each one call into a plain function ---------------------------------------------


@task(name="plan-ingest", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_transient,
      cache_policy=NO_CACHE)
def plan_task(config_path: str | None):
    from guanxi.ingest import plan_ingest

    logger = get_run_logger()
    plan = plan_ingest(_config(config_path), say=logger.warning)
    logger.info("%d sources due, %d waiting to retry", len(plan.tasks), plan.waiting)
    return plan


@task(name="fetch-sources", retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_transient,
      cache_policy=NO_CACHE)
def fetch_task(tasks: list, ingest_config: IngestConfig, taxonomy_path: str | None = None) -> dict:
    """Fetch one batch of sources; per-feed failures are data (a Batch), not task failures."""
    from guanxi.ingest import fetch_sources

    batches = fetch_sources(tasks, ingest_config, taxonomy_path=taxonomy_path)
    get_run_logger().info("fetched %d sources", len(batches))
    return batches


@task(name="store-posts", retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=_transient,
      cache_policy=NO_CACHE)
def store_task(config_path: str | None, plan, batches: dict):
    from guanxi.ingest import store_batches

    logger = get_run_logger()
    summary = store_batches(_config(config_path), plan, batches, say=logger.warning)
    _log_summary(plan, summary)
    return summary


@task(name="fetch-and-store", retries=2, retry_delay_seconds=[10, 60], retry_condition_fn=_transient,
      cache_policy=NO_CACHE)
def fetch_store_task(config_path: str | None, plan):
    """Fetch in this process's workers and store in waves as batches arrive (bounded memory)."""
    from guanxi.ingest import fetch_and_store

    summary = fetch_and_store(_config(config_path), plan, say=get_run_logger().warning)
    _log_summary(plan, summary)
    return summary


def _log_summary(plan, summary) -> None:
    logger = get_run_logger()
    logger.info(summary.line())
    for person, url, error in summary.failures:
        logger.warning("source failed: person=%s source=%s url=%s error=%s", person,
                       _source_kind(plan, url), redact_url(url), error)


@task(name="snapshot", cache_policy=NO_CACHE)
def snapshot_task(config_path: str | None) -> None:
    from guanxi.ingest import snapshot_after_ingest

    snapshot_after_ingest(_config(config_path), say=get_run_logger().warning)


@task(name="search-index", cache_policy=NO_CACHE)
def index_task(config_path: str | None) -> int:
    """Bring the full-text index up to date, after storing: the CLI ingest path stays fast."""
    from guanxi.search import ensure_index

    config = _config(config_path)
    return ensure_index(config.store_path, wait_s=config.store_wait_s, say=get_run_logger().warning)


@task(name="publish-digest", retries=2, retry_delay_seconds=[30, 120], retry_condition_fn=_transient,
      cache_policy=NO_CACHE)
def publish_task(config_path: str | None, day: date | None, send: bool, force: bool) -> dict:
    from reports.publish import publish_digest

    logger = get_run_logger()
    res = publish_digest(_config(config_path), day=day, send=send, force=force)
    logger.info("digest written to %s (%d starters)", res.html_path, len(res.digest.starters))
    return {"digest_path": str(res.html_path), "text_path": str(res.text_path), "sent": res.sent,
            "already_sent": res.already_sent, "skipped_quiet": res.skipped_quiet,
            "starters": len(res.digest.starters), "day": str(res.digest.day)}


def _source_kind(plan, url: str) -> str:
    return next((s.kind for s in plan.sources.values() if s.url == url), "?")


# --- fetching, batched, on the configured task runner ---------------------------------------


def _chunks(items: list, n: int) -> list[list]:
    """Split into at most n nearly equal, non-empty chunks (round-robin spreads slow hosts)."""
    n = max(1, min(n, len(items)))
    return [items[i::n] for i in range(n)] if items else [[]]


def fetch_batched(config: Config, tasks: list) -> dict:
    """Run the fetch task(s): in this process by default, on Dask when [orchestration] says so."""
    from guanxi.ingest import taxonomy_path

    oc = config.orchestration
    chunks = _chunks(tasks, oc.fetch_chunks)
    batches: dict = {}
    if oc.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        runner = DaskTaskRunner(address=oc.dask_address) if oc.dask_address else DaskTaskRunner()
        with runner:
            futures = [runner.submit(fetch_task, {"tasks": c, "ingest_config": config.ingest,
                                                   "taxonomy_path": taxonomy_path(config)})
                       for c in chunks]
            for f in futures:
                batches.update(f.result())
    elif len(chunks) == 1:
        batches.update(fetch_task(chunks[0], config.ingest, taxonomy_path(config)))
    else:
        for f in [fetch_task.submit(c, config.ingest, taxonomy_path(config)) for c in chunks]:
            batches.update(f.result())
    return batches


# --- artifacts (no secrets: URLs are redacted, the SMTP password is never read here) ---------


def _publish_ingest_artifacts(config: Config, summary) -> None:
    from guanxi import store
    from guanxi.ingest import source_health

    with store.reader(config.store_path, wait_s=config.store_wait_s) as con:
        rows = source_health(con)
    table = [{"person": r["person"], "kind": r["kind"], "url": redact_url(r["url"]),
              "status": r["status"], "http": r["http_status"] or "", "errors": r["error_count"],
              "last_error": (r["last_error"] or "")[:200], "posts": r["posts"]} for r in rows]
    create_table_artifact(table, key="source-health", description="Each source after this ingest")
    failures = "".join(f"\n- {_md(p)}: `{redact_url(u)}` — {_md(e)}" for p, u, e in summary.failures)
    create_markdown_artifact(
        f"## Ingest\n\n{summary.line()}\n\n"
        f"- sources ok: {summary.sources_ok}\n- not modified: {summary.sources_not_modified}\n"
        f"- failed: {summary.sources_failed}\n- waiting to retry: {summary.sources_skipped}\n"
        f"- posts new: {summary.posts_new}\n- posts updated: {summary.posts_updated}\n"
        + (f"\n### Failed sources\n{failures}\n" if failures else ""),
        key="ingest-summary", description="What this ingest fetched and stored")


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")[:300]


# --- flows -----------------------------------------------------------------------------------


@flow(name="ingest", log_prints=True)
def ingest(config_path: str | None = None) -> dict:
    """Fetch every due source and store new posts."""
    config = _config(config_path)
    with run_lock(config.store_path, what="ingest"):
        plan = plan_task(config_path)
        if config.orchestration.task_runner == "dask" or config.orchestration.fetch_chunks > 1:
            summary = store_task(config_path, plan, fetch_batched(config, plan.tasks))
        else:  # one task fetches and stores in waves, as `guanxi ingest` does
            summary = fetch_store_task(config_path, plan)
        index_task(config_path)
        snapshot_task(config_path)
        _publish_ingest_artifacts(config, summary)
    return {"summary": summary.line(), "posts_new": summary.posts_new,
            "posts_updated": summary.posts_updated, "sources_ok": summary.sources_ok,
            "sources_failed": summary.sources_failed}


@flow(name="digest", log_prints=True)
def digest(config_path: str | None = None, day: date | None = None, send: bool = True,
           force: bool = False) -> dict:
    """Render the day's digest and send it once."""
    config = _config(config_path)
    with run_lock(config.store_path, what="digest"):
        out = publish_task(config_path, day, send, force)
    mail = ("sent" if out["sent"] else "already sent earlier" if out["already_sent"]
            else "quiet day, not sent" if out["skipped_quiet"] else "not sent (--no-send)")
    create_markdown_artifact(
        f"## Digest {out['day']}\n\n- starters: {out['starters']}\n- mail: {mail}\n"
        f"- file: `{Path(out['digest_path']).name}`\n",
        key="digest-summary", description="The day's digest")
    return out


@flow(name="daily", log_prints=True)
def daily(config_path: str | None = None, send: bool = True) -> dict:
    """Ingest, then digest and send."""
    config = _config(config_path)
    with run_lock(config.store_path, what="daily"):  # held across both subflows
        result = ingest(config_path)
        out = digest(config_path, send=send)
    create_markdown_artifact(
        f"## Daily run\n\n{result['summary']}\n\nDigest {out['day']}: {out['starters']} starters, "
        f"{'mailed' if out['sent'] else 'not mailed'}.\n", key="daily-summary",
        description="Ingest and digest in one line each")
    return {**out, "ingest": result}
