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


def test_the_large_lookup_sets_of_the_state_are_out_of_the_garbage_collectors_sight(tmp_path):
    # Every full collection visits each entry of a tracked set: ~800,000 of them cost ~50 ms a time.
    import gc
    import pickle

    _tag(tmp_path)
    [state] = _states(tmp_path)
    _, (freq, _, (pairs, longer_pairs)) = pickle.loads(state.read_bytes())
    assert not gc.is_tracked(pairs) and len(pairs) > 100_000
    assert not gc.is_tracked(longer_pairs) and not pairs.keys() & longer_pairs.keys()
    assert not gc.is_tracked(freq) and len(freq) > 400_000
