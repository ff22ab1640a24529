"""The README's examples stay true: its config parses, its commands exist."""

import re
from pathlib import Path

from guanxi.cli import build_parser
from guanxi.config import load_config

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_config_example_is_a_valid_config(tmp_path):
    block = re.search(r"```toml\n(.*?)```", README, re.S).group(1)
    (tmp_path / "people.toml").write_text("", encoding="utf-8")
    (tmp_path / "calendar.ics").write_text("", encoding="utf-8")
    cfg = tmp_path / "guanxi.toml"
    cfg.write_text(block, encoding="utf-8")
    config = load_config(str(cfg))
    assert config.people[0].name == "李伟" and config.digest.timezone == "Asia/Shanghai"
    assert config.store_path == tmp_path / "guanxi.duckdb"


def test_every_command_in_the_readme_table_exists():
    commands = set(re.findall(r"^\| `guanxi ([a-z][a-z-]*)", README, re.M))
    known = set(build_parser()._subparsers._group_actions[0].choices)
    assert commands and commands <= known
