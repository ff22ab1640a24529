"""Shared fixtures: loopback servers, configs on real files, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from guanxi.demo import SAMPLE_DIR, serve_folder, write_demo_config
from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).with_name("fixtures")
PEER_CORPUS = ROOT.parent / "shared" / "peer-corpus" / "feedparser" / "tests"


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str, stdin: str | None = None, env: dict | None = None, cwd: Path | None = None,
            timeout: float = 120) -> Result:
    """Run the real `guanxi` console script in a subprocess."""
    exe = Path(sys.executable).with_name("guanxi")
    full_env = {k: v for k, v in os.environ.items() if k != "GUANXI_CONFIG"}
    full_env.update(env or {})
    p = subprocess.run([str(exe), *args], input=stdin, capture_output=True, text=True,
                       env=full_env, cwd=cwd, timeout=timeout)
    return Result(p.returncode, p.stdout, p.stderr)


@pytest.fixture(scope="session", autouse=True)
def _tagger_cache(tmp_path_factory):
    """One tagger dictionary cache for the session (shared by xdist workers and the CLI subprocesses
    they start), away from the user's own ~/.cache."""
    folder = tmp_path_factory.getbasetemp().parent / "guanxi-cache"
    os.environ.setdefault("GUANXI_CACHE_DIR", str(folder))
    yield folder


@pytest.fixture
def server():
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture
def sample_base_url():
    with serve_folder(SAMPLE_DIR) as base:
        yield base


@pytest.fixture
def demo_config(tmp_path, sample_base_url) -> Path:
    """A config whose roster is the bundled sample, served on loopback."""
    return write_demo_config(tmp_path, sample_base_url)


def write_config(tmp_path: Path, people: str = "", extra: str = "") -> Path:
    cfg = tmp_path / "guanxi.toml"
    cfg.write_text(f'''
[store]
path = "store.duckdb"

[digest]
recipient = "me@example.com"
timezone = "Asia/Shanghai"
out_dir = "out"
{extra}
{people}
''', encoding="utf-8")
    return cfg
