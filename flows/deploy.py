"""The deployments `guanxi serve` serves: `daily` on a cron in the digest's time zone, `ingest`
on an interval. Building them is a pure function of the config, so tests check the schedules
and parameters without serving anything.
"""

from __future__ import annotations

from datetime import timedelta

from guanxi.config import Config


def daily_cron(send_at: str) -> str:
    """A cron line for "HH:MM" every day (minute hour * * *)."""
    hh, mm = send_at.split(":")
    return f"{int(mm)} {int(hh)} * * *"


def build_deployments(config: Config) -> list:
    """The `daily` and `ingest` deployments for this config (nothing is registered or served)."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron, Interval

    from flows.pipeline import daily, ingest

    if config.path is None:
        raise ValueError("deployments need a config file on disk")
    params = {"config_path": str(config.path.resolve())}  # absolute: the runner's cwd may differ
    name = config.orchestration.deployment_name
    tz = config.digest.timezone
    return [
        daily.to_deployment(
            name=name, parameters={**params, "send": True},
            schedules=[Cron(daily_cron(config.digest.send_at), timezone=tz)],
            description=f"Ingest, then the digest, every day at {config.digest.send_at} {tz}",
            tags=["guanxi"], entrypoint_type=EntrypointType.MODULE_PATH),
        ingest.to_deployment(
            name=name, parameters=params,
            schedules=[Interval(timedelta(minutes=config.ingest.every_minutes), timezone=tz)],
            description=f"Fetch every due source every {config.ingest.every_minutes} minutes",
            tags=["guanxi"], entrypoint_type=EntrypointType.MODULE_PATH),
    ]


def serve(config: Config) -> None:
    """Serve the deployments until interrupted (runs start in subprocesses of this one)."""
    from prefect import serve as prefect_serve

    # limit=1: one flow run at a time from this server; the run lock also guards other processes.
    prefect_serve(*build_deployments(config), limit=1)
