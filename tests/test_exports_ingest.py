"""Export files as roster sources, end to end through `guanxi ingest` into a real store."""

import json
import shutil
import zipfile
from pathlib import Path

from tests.conftest import FIXTURES, run_cli

EXPORTS = FIXTURES / "exports"


def _config(tmp_path: Path, feeds: list[str]) -> Path:
    cfg = tmp_path / "guanxi.toml"
    specs = ", ".join(json.dumps(f) for f in feeds)
    cfg.write_text(f'[store]\npath = "s.duckdb"\n[[people]]\nname = "李华"\nfeeds = [{specs}]\n', encoding="utf-8")
    return cfg


def _posts(cfg: Path) -> int:
    res = run_cli("--config", str(cfg), "sql", "SELECT count(*) n FROM posts", "--format", "json")
    return json.loads(res.out)[0]["n"]


def test_export_folder_and_zip_ingest_once(tmp_path):
    shutil.copytree(EXPORTS / "mastodon", tmp_path / "mastodon-archive")
    with zipfile.ZipFile(tmp_path / "twitter.zip", "w") as z:
        for f in (EXPORTS / "twitter").rglob("*"):
            if f.is_file():
                z.write(f, f.relative_to(EXPORTS / "twitter"))
    cfg = _config(tmp_path, ["export:mastodon-archive", "export:twitter.zip"])
    first = run_cli("--config", str(cfg), "ingest")
    assert first.code == 0 and "2 ok" in first.out, first.out + first.err
    stored = _posts(cfg)
    assert stored > 0
    again = run_cli("--config", str(cfg), "ingest")
    assert "posts: 0 new, 0 updated" in again.out
    assert _posts(cfg) == stored


def test_unsafe_zip_marks_source_failed_and_run_goes_on(tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("../../etc/passwd", "root:x:0:0")
    shutil.copytree(EXPORTS / "mastodon", tmp_path / "ok")
    cfg = _config(tmp_path, ["export:evil.zip", "export:ok"])
    res = run_cli("--config", str(cfg), "ingest")
    assert res.code == 0 and "1 ok" in res.out and "1 failed" in res.out
    health = run_cli("--config", str(cfg), "sql", "SELECT status, last_error FROM sources WHERE url LIKE '%evil.zip'",
                     "--format", "json")
    row = json.loads(health.out)[0]
    assert row["status"] == "failed" and row["last_error"].startswith("export: ")
    assert not (tmp_path.parent / "etc" / "passwd").exists()
