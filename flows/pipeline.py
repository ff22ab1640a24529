"""Prefect flows `ingest`, `digest` and `daily`: thin tasks over the plain functions.

This package is the only place that imports Prefect. Fetching is one batched task (not one
task per feed): thousands of tiny tasks cost more than the fetches themselves.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task

from guanxi.config import load_config


@task(name="ingest-sources", retries=2, retry_delay_seconds=[5, 30])
def ingest_sources(config_path: str | None) -> dict:
    from guanxi.ingest import ingest as run_ingest

    logger = get_run_logger()
    summary = run_ingest(load_config(config_path), say=logger.info)
    logger.info(summary.line())
    for person, url, error in summary.failures:
        logger.warning("source failed: person=%s url=%s error=%s", person, url, error)
    return {"summary": summary.line(), "posts_new": summary.posts_new,
            "posts_updated": summary.posts_updated, "sources_failed": summary.sources_failed}


@task(name="publish-digest", retries=2, retry_delay_seconds=[30, 120])
def publish(config_path: str | None, day: date | None, send: bool, force: bool) -> dict:
    from reports.publish import publish_digest

    logger = get_run_logger()
    res = publish_digest(load_config(config_path), day=day, send=send, force=force)
    logger.info("digest written to %s (%d starters)", res.html_path, len(res.digest.starters))
    return {"digest_path": str(res.html_path), "text_path": str(res.text_path), "sent": res.sent,
            "already_sent": res.already_sent, "starters": len(res.digest.starters)}


@flow(name="ingest", log_prints=True)
def ingest(config_path: str | None = None) -> dict:
    """Fetch every due source and store new posts."""
    return ingest_sources(config_path)


@flow(name="digest", log_prints=True)
def digest(config_path: str | None = None, day: date | None = None, send: bool = True,
           force: bool = False) -> dict:
    """Render the day's digest and send it once."""
    return publish(config_path, day, send, force)


@flow(name="daily", log_prints=True)
def daily(config_path: str | None = None, send: bool = True) -> dict:
    """Ingest, then digest and send."""
    result = ingest(config_path)
    out = digest(config_path, send=send)
    return {**out, "ingest": result}
