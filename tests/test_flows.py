"""The Prefect flows under Prefect's test harness: `daily` end to end on loopback feeds and a
loopback SMTP server, the deployments built from a config, and fetching on a local Dask cluster."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from guanxi import store
from guanxi.config import load_config
from tests.conftest import run_cli, write_config


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    # The temporary server would otherwise try to send telemetry: tests talk to loopback only.
    saved = os.environ.get("PREFECT_SERVER_ANALYTICS_ENABLED")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    try:
        with prefect_test_harness(server_startup_timeout=120):
            yield
    finally:
        if saved is None:
            os.environ.pop("PREFECT_SERVER_ANALYTICS_ENABLED", None)
        else:
            os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = saved


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
            self.messages.append(envelope)
            return "250 OK"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def _artifacts(key: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


def test_daily_end_to_end_stores_posts_writes_the_digest_and_mails_it(harness, demo_config, smtp,
                                                                       monkeypatch):
    from flows.pipeline import daily

    controller, inbox = smtp
    demo_config.write_text(demo_config.read_text().replace("port = 2525", f"port = {controller.port}"))
    monkeypatch.setenv("GUANXI_SMTP_PASSWORD", "s3cret-never-shown")
    result = daily(config_path=str(demo_config))

    config = load_config(str(demo_config))
    with store.reader(config.store_path) as con:
        posts = con.execute("SELECT count(*) FROM posts").fetchone()[0]
        sent = con.execute("SELECT count(*) FROM digests WHERE sent_at IS NOT NULL").fetchone()[0]
    assert posts > 20 and result["ingest"]["posts_new"] == posts
    assert Path(result["digest_path"]).is_file() and result["sent"] and sent == 1
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail.rcpt_tos == ["you@example.com"]
    assert b"multipart/alternative" in mail.content
    # Artifacts: the summary and the source-health table, with no secret in them.
    health = _artifacts("source-health")
    summary = _artifacts("ingest-summary")
    assert health and summary and _artifacts("daily-summary") and _artifacts("digest-summary")
    assert "posts:" in summary[0].data and "s3cret" not in summary[0].data
    rows = json.loads(health[0].data)
    assert len(rows) == 10 and {r["status"] for r in rows} == {"ok"}
    assert "Emily Walsh" in {r["person"] for r in rows}
    assert "s3cret" not in health[0].data


def test_deployments_carry_cron_timezone_interval_and_absolute_config(tmp_path):
    from flows.deploy import build_deployments

    cfg = write_config(tmp_path, extra='send_at = "06:45"\n[ingest]\nevery_minutes = 15\n'
                                       '[orchestration]\ndeployment_name = "team"\n')
    cfg.write_text(cfg.read_text().replace('timezone = "Asia/Shanghai"', 'timezone = "Europe/Berlin"'))
    daily, ingest = build_deployments(load_config(str(cfg)))
    assert (daily.flow_name, daily.name) == ("daily", "team")
    assert (ingest.flow_name, ingest.name) == ("ingest", "team")
    d = daily.schedules[0].schedule
    assert (d.cron, d.timezone) == ("45 6 * * *", "Europe/Berlin")
    i = ingest.schedules[0].schedule
    assert i.interval.total_seconds() == 15 * 60
    assert daily.parameters == {"config_path": str(cfg.resolve()), "send": True}
    assert ingest.parameters == {"config_path": str(cfg.resolve())}
    assert Path(daily.parameters["config_path"]).is_absolute()
    # The default interval is an hour; the CLI prints the same plan without serving.
    r = run_cli("--config", str(write_config(tmp_path / "..", extra='send_at = "07:05"')), "serve", "--dry-run")
    assert r.code == 0, r.err
    assert "daily/guanxi: 5 7 * * * (Asia/Shanghai)" in r.out
    assert "ingest/guanxi: 1:00:00" in r.out


def test_ingest_fetches_on_a_local_dask_cluster(harness, demo_config):
    from distributed import LocalCluster

    from flows.pipeline import ingest

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        demo_config.write_text(demo_config.read_text() + f'''
[orchestration]
task_runner = "dask"
dask_address = "{cluster.scheduler_address}"
fetch_chunks = 2
''')
        result = ingest(config_path=str(demo_config))
        ran = [k for k in cluster.scheduler.task_prefixes if "fetch" in k]
    assert ran, "the fetch tasks did not run on the Dask cluster"
    assert result["sources_ok"] >= 9 and result["posts_new"] > 20
    with store.reader(load_config(str(demo_config)).store_path) as con:
        assert con.execute("SELECT count(*) FROM posts").fetchone()[0] == result["posts_new"]
