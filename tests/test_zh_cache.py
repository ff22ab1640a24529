"""The tagger's Chinese dictionary state is cached on disk: same tags from the cache, and a bad or
unwritable cache is never an error."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from transforms import zh_cache

POSTS = [
    {"id": "1", "text": "今天升职了，请大家吃饭🎉"},
    {"id": "2", "text": "他被裁判罚下场了，比赛太精彩"},
    {"id": "3", "text": "我們組今天也“畢業”了三個人，包括我…"},
    {"id": "4", "text": "有没有人推荐上海好一点的儿科医生？"},
    {"id": "5", "text": "熊猫基地一日游，熊猫宝宝太可爱了"},
]
STDIN = "".join(json.dumps(post, ensure_ascii=False) + "\n" for post in POSTS)


def _tag(cache, **env) -> list[dict]:
    result = run_cli("tag", "--evidence", stdin=STDIN, env={"GUANXI_CACHE_DIR": str(cache), **env})
    assert result.code == 0, result.err
    return [json.loads(line) for line in result.out.splitlines()]


def _states(cache) -> list:
    return sorted(cache.glob("zh-dict-*.pickle"))


def test_state_from_the_cache_tags_exactly_as_a_computed_one(tmp_path):
    cache = tmp_path / "cache"
    computed = _tag(cache)
    [state] = _states(cache)
    written = state.stat().st_mtime_ns
    assert _tag(cache) == computed
    assert state.stat().st_mtime_ns == written  # read, not rewritten
    assert computed[1]["topics"] == ["sports"] and computed[1]["signals"] == []  # 被裁判 is no layoff
    assert computed[2]["signals"] == ["check_in"]


def test_corrupt_cache_is_recomputed_and_rewritten(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("GUANXI_CACHE_DIR", str(cache))
    computed = _tag(cache)
    [state] = _states(cache)
    state.write_bytes(b"not a pickle at all")
    assert _tag(cache) == computed
    assert zh_cache.load(state.name[len("zh-dict-"):-len(".pickle")]) is not None


def test_a_damaged_byte_anywhere_in_the_file_is_found_when_loading_not_while_tagging(tmp_path, monkeypatch):
    """The dictionary's parts are unpickled only when a post needs them: a flipped byte inside one
    (the file still unpickles) must be caught by the checksum when the file is loaded."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GUANXI_CACHE_DIR", str(cache))
    computed = _tag(cache)
    [state] = _states(cache)
    key = state.name[len("zh-dict-"):-len(".pickle")]
    data = bytearray(state.read_bytes())
    data[len(data) * 2 // 3] ^= 0x40
    state.write_bytes(bytes(data))
    assert zh_cache.load(key) is None
    assert _tag(cache) == computed  # computed again and rewritten
    assert zh_cache.load(key) is not None


def test_unwritable_cache_folder_just_means_no_cache(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cached = _tag(tmp_path / "cache")
    assert _tag(blocker / "cache") == cached
    assert blocker.read_text() == "x"


def test_key_covers_the_taxonomy_words_and_dictionary():
    base = zh_cache.cache_key({"jieba": "0.42.1"}, 4, ("升职", "裁员"))
    assert base == zh_cache.cache_key({"jieba": "0.42.1"}, 4, ("升职", "裁员"))
    assert base != zh_cache.cache_key({"jieba": "0.42.1"}, 4, ("升职", "裁员", "跳槽"))
    assert base != zh_cache.cache_key({"jieba": "0.42.2"}, 4, ("升职", "裁员"))


def test_only_the_newest_few_states_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("GUANXI_CACHE_DIR", str(tmp_path))
    for i in range(zh_cache._KEEP + 3):
        zh_cache.save(f"k{i}", {"n": i})
    assert len(_states(tmp_path)) == zh_cache._KEEP
    assert zh_cache.load(f"k{zh_cache._KEEP + 2}") == {"n": zh_cache._KEEP + 2}
    assert zh_cache.load("missing") is None


def test_equal_strings_come_back_as_one_object_and_the_state_equal(tmp_path, monkeypatch):
    monkeypatch.setenv("GUANXI_CACHE_DIR", str(tmp_path))
    word = "".join(["熊", "猫"])  # made, so not the same object as the literal below
    state = ({"熊猫": 3, "熊": 0}, 3, {"猫": (frozenset({word}), frozenset())}, [word[:1], ("熊", 2)])
    zh_cache.save("shared", state)
    back = zh_cache.load("shared")
    assert back == state
    freq, _, traps, rest = back
    keys = {key: key for key in freq}
    [trapped] = traps["猫"][0]
    assert trapped is keys["熊猫"] and rest[0] is keys["熊"] and rest[1][0] is keys["熊"]


def test_scorer_weights_come_back_from_the_cache_equal_and_a_bad_file_is_rebuilt(tmp_path, monkeypatch):
    from transforms.scorer import WEIGHTS, load_scorer, read_weights, scorer_from_dict, weights_fingerprint

    monkeypatch.setenv("GUANXI_CACHE_DIR", str(tmp_path))
    built = scorer_from_dict(read_weights(), weights_fingerprint())
    load_scorer.cache_clear()
    try:
        assert load_scorer(WEIGHTS) == built  # built, then saved
        [saved] = tmp_path.glob("scorer-*.pickle")
        load_scorer.cache_clear()
        assert load_scorer(WEIGHTS) == built  # read back
        saved.write_bytes(b"\x80\x05 truncated")
        load_scorer.cache_clear()
        assert load_scorer(WEIGHTS) == built  # rebuilt and rewritten
        assert zh_cache.load(saved.name[len("scorer-"):-len(".pickle")], kind="scorer") == built
    finally:
        load_scorer.cache_clear()


def test_the_large_lookup_sets_of_the_state_are_out_of_the_garbage_collectors_sight(tmp_path, monkeypatch):
    # Every full collection visits each entry of a tracked set: ~800,000 of them cost ~50 ms a time.
    import gc

    monkeypatch.setenv("GUANXI_CACHE_DIR", str(tmp_path))
    _tag(tmp_path)
    [state] = _states(tmp_path)
    _, parts = zh_cache.load(state.name[len("zh-dict-"):-len(".pickle")])
    parts = [zh_cache.unpack(blob) for blob in parts.values()]
    assert not any(gc.is_tracked(entries) for part in parts for entries in part)
    freq, pairs, long_pairs = (sum(map(len, entries)) for entries in zip(*parts))
    assert freq > 400_000 and pairs > 100_000 and 0 < long_pairs < 10_000


def test_gazetteer_comes_back_from_the_cache_equal_and_a_changed_list_is_prepared_again(tmp_path, monkeypatch):
    from transforms.gazetteer import FOLDER, _prepare, load_gazetteer

    monkeypatch.setenv("GUANXI_CACHE_DIR", str(tmp_path / "cache"))
    lists = tmp_path / "lists"
    lists.mkdir()
    for path in FOLDER.glob("*.txt"):
        (lists / path.name).write_bytes(path.read_bytes())
    files = [(path.name, path.read_bytes()) for path in sorted(lists.glob("*.txt"))]
    load_gazetteer.cache_clear()
    try:
        prepared = load_gazetteer(lists)  # prepared, then saved
        [saved] = (tmp_path / "cache").glob("gazetteer-*.pickle")
        assert prepared == _prepare(files, prepared.fingerprint)
        load_gazetteer.cache_clear()
        assert load_gazetteer(lists) == prepared  # read back
        saved.write_bytes(b"\x80\x05 truncated")
        load_gazetteer.cache_clear()
        assert load_gazetteer(lists) == prepared  # prepared again
        (lists / "pet.txt").write_text("柯基犬\n", encoding="utf-8")
        load_gazetteer.cache_clear()
        changed = load_gazetteer(lists)
        assert "柯基犬" in {entry for group in changed.chinese_longer.values() for entry, _ in group}
        assert changed.fingerprint != prepared.fingerprint
    finally:
        load_gazetteer.cache_clear()


READ_AS_NEEDED = """
import json, sys
from transforms import tagging
from transforms.tagging import load_taxonomy, read_dictionary, tag_post
taxonomy = load_taxonomy()
first = tag_post("", sys.argv[1], taxonomy=taxonomy)
unread = len(tagging._UNREAD)
if sys.argv[2] == "warm":
    from connectors.sources import batch_tagger
    batch_tagger(None, warm_up=True)
else:
    read_dictionary()
words, (pairs, long_pairs) = tagging._JIEBA.FREQ, tagging._word_pairs(tagging._JIEBA)  # short words, long words only
print(json.dumps([first.topics, first.signals, unread, len(tagging._UNREAD), len(words), len(pairs), len(long_pairs)]))
"""


def _read_as_needed(cache, text: str, how: str) -> list:
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", READ_AS_NEEDED, text, how], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "GUANXI_CACHE_DIR": str(cache)})
    return json.loads(run.stdout)


def test_a_cached_state_is_read_as_posts_need_it_and_whole_before_workers_fork(tmp_path):
    # Computed (and saved) in the first process, whole; read back part by part in the next ones.
    computed = _read_as_needed(tmp_path, POSTS[1]["text"], "all")
    assert computed[2] == 0 and computed[4] > 400_000
    lazy = _read_as_needed(tmp_path, POSTS[1]["text"], "all")
    assert lazy[:2] == computed[:2] == [["sports"], []]
    assert lazy[2] > 1000  # parts of the characters the post does not have are not read
    assert lazy[3:] == [0, *computed[4:]]  # read_dictionary() reads the rest: the same dictionary and pairs
    assert _read_as_needed(tmp_path, POSTS[1]["text"], "warm")[3:] == lazy[3:]  # the ingest warm-up reads it all
