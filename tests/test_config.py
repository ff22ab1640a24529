from pathlib import Path

import pytest

from guanxi.config import ConfigError, load_config
from tests.conftest import write_config


def test_defaults_and_relative_paths(tmp_path):
    cfg = write_config(tmp_path, people='''
[[people]]
name = "李伟"
aliases = ["Li Wei"]
feeds = ["https://example.com/feed.xml", "rsshub:/weibo/user/1"]
cadence_days = 14
''')
    c = load_config(str(cfg))
    assert c.store_path == tmp_path / "store.duckdb"
    assert c.digest.out_dir == tmp_path / "out"
    assert c.digest.timezone == "Asia/Shanghai"
    assert c.people[0].name == "李伟" and c.people[0].aliases == ("Li Wei",)
    assert c.smtp.port == 25 and c.smtp.security == "none"
    assert c.digest.embed_images is False


def test_env_var_and_default_location(tmp_path, monkeypatch):
    cfg = write_config(tmp_path)
    monkeypatch.setenv("GUANXI_CONFIG", str(cfg))
    assert load_config(None).path == cfg.resolve()
    monkeypatch.delenv("GUANXI_CONFIG")
    monkeypatch.chdir(tmp_path)
    assert load_config(None).path == cfg.resolve()


def test_separate_roster_file(tmp_path):
    (tmp_path / "people.toml").write_text('[[people]]\nname = "Sarah"\nfeeds = ["https://a.example/rss"]\n')
    cfg = write_config(tmp_path, extra='', people='')
    cfg.write_text('roster = "people.toml"\n' + cfg.read_text())
    assert [p.name for p in load_config(str(cfg)).people] == ["Sarah"]


@pytest.mark.parametrize("body, needle", [
    ("[store]\npath = 3\n", "store.path must be a string"),
    ('[digest]\ntimezone = "Mars/Olympus"\n', "digest.timezone is not an IANA"),
    ('[digest]\nsend_at = "7am"\n', 'digest.send_at must be "HH:MM"'),
    ('[smtp]\nsecurity = "ssl"\n', "smtp.security must be one of none, starttls, tls"),
    ('[smtp]\npassword = "hunter2"\n', "smtp.password must not be in the file; set GUANXI_SMTP_PASSWORD"),
    ('[smtp]\nport = true\n', "smtp.port must be a whole number, not a boolean"),
    ('[digest]\nembed_images = "yes"\n', "digest.embed_images must be true or false"),
    ('[[people]]\nfeeds = []\n', "people[0].name is missing"),
    ('[[people]]\nname = "A"\n[[people]]\nname = "A"\n', "people[1].name repeats 'A'"),
    ('[storee]\npath = "x"\n', "config.storee is not a known setting"),
    ("[store\n", "invalid TOML"),
])
def test_bad_config_names_file_and_key(tmp_path, body, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(body)
    with pytest.raises(ConfigError) as exc:
        load_config(str(cfg))
    msg = str(exc.value)
    assert needle in msg and str(cfg) in msg and "\n" not in msg


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config: file not found: .*nope.toml"):
        load_config(str(tmp_path / "nope.toml"))


def test_not_utf8(tmp_path):
    cfg = tmp_path / "gbk.toml"
    cfg.write_bytes('[store]\npath = "数据.duckdb"\n'.encode("gbk"))
    with pytest.raises(ConfigError, match="is not UTF-8"):
        load_config(str(cfg))
