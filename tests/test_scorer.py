"""Tests for the learned scorer (transforms/scorer.py), its trainer (scripts/train_scorer.py) and
how the tagger combines it with the rules."""

from __future__ import annotations

import copy
import dataclasses
import gzip
import json
from pathlib import Path

import pytest

from scripts import train_scorer
from transforms.scorer import WEIGHTS, LazyBound, bind, features, load_scorer, read_weights, scorer_from_dict
from transforms.tagging import _normalise_post, load_taxonomy, tag_post, taxonomy_fingerprint

FIXTURES = Path(__file__).parent / "fixtures"


def feats(text: str) -> set:
    """Features of a raw post text, normalised as the tagger does."""
    return features(_normalise_post(text))


def toy_scorer(weights: dict[str, list], thresholds: dict[str, float], bias: list[float] | None = None,
               keep: dict[str, float] | None = None):
    """A hand-made scorer over the default labels: weights as {feature: [label index, w, ...]}."""
    labels = train_scorer.model_labels()
    data = {"labels": list(labels), "bias": bias or [-4.0] * len(labels), "weights": weights, "thresholds": thresholds,
            "keep": keep or {}}
    return scorer_from_dict(data, "toy")


def with_scorer(scorer) -> object:
    """The default taxonomy with `scorer` bound in place of the shipped one (on a copy of the
    compiled matcher, so the cached default taxonomy is left alone)."""
    base = load_taxonomy()
    compiled = copy.copy(base._compiled)
    compiled.scorer = bind(scorer, base.labels)
    return dataclasses.replace(base, _compiled=compiled, scorer=compiled.scorer)


def label_index(name: str) -> int:
    return train_scorer.model_labels().index(name)


# --- features --------------------------------------------------------------------------------


def test_english_features_are_stems_and_stem_bigrams() -> None:
    found = feats("Hiked the ridge, then hiking again!")
    assert {"hik", "ridg", ("the", "ridg"), "@en"} <= found
    assert "hiked" not in found and "hiking" not in found
    assert feats("She hikes.") & {"hik"}


def test_chinese_features_are_character_unigrams_and_bigrams() -> None:
    found = feats("今天上班")
    assert {"今", "天", "上", "班", "今天", "天上", "上班", "@zh"} <= found
    assert not any(isinstance(f, str) and len(f) == 3 and "\u4e00" <= f[0] for f in found)


def test_traditional_chinese_gives_the_simplified_features() -> None:
    assert feats("今天正式升職為資深工程師") == feats("今天正式升职为资深工程师")


def test_mixed_post_has_both_languages_and_no_ngram_across_runs() -> None:
    found = feats("拿到了Google的offer！Finally 三年")
    assert {"@en", "@zh", "googl", "offer", "拿到", "三年"} <= found
    assert "的 " in found and "的 " not in train_scorer.vocabulary([found, found], 1)  # runs joined by a space
    assert "的" in found and "的三" not in found


def test_emoji_and_hashtags_are_features() -> None:
    found = feats("Day 12 #100DaysOfCode 🎉 #话题#")
    assert {"#100daysofcode", "🎉", "#话题"} <= found


def test_only_the_opening_of_a_long_post_is_read() -> None:
    long_post = "coffee " * 30 + "axolotl"
    assert "coffe" in feats(long_post) and "axolotl" not in feats(long_post)


# --- trainer ---------------------------------------------------------------------------------


def _toy_posts() -> list[dict]:
    posts = []
    for i in range(30):
        posts.append({"lang": "en", "title": "", "text": f"my cat number {i} sleeps", "topics": ["pets"], "signals": []})
        posts.append({"lang": "zh", "title": "", "text": f"今天加班到{i}点", "topics": ["work"], "signals": []})
    return posts


def test_trainer_learns_and_is_deterministic() -> None:
    posts = _toy_posts()
    rows = [train_scorer.post_features(p) for p in posts]
    labels = train_scorer.model_labels()
    config = train_scorer.Config(epochs=5)
    first = train_scorer.fit(posts, rows, labels, config)
    second = train_scorer.fit(posts, rows, labels, config)
    assert first == second
    cat = first.probabilities(feats("the cat is asleep"))
    overtime = first.probabilities(feats("又加班了"))
    assert cat["topic:pets"] > 0.5 > cat["topic:work"]
    assert overtime["topic:work"] > 0.5 > overtime["topic:pets"]


def test_vocabulary_keeps_features_seen_min_count_times() -> None:
    rows = [{"a", "b", "上 班"}, {"a", "c"}, {"a", "b"}]
    assert train_scorer.vocabulary(rows, 2) == ["a", "b"]


def test_prune_drops_small_weights_and_rounds() -> None:
    pruned = train_scorer.prune([0.123456], {"big": [0.87654], "small": [0.001]}, train_scorer.Config())
    assert pruned == {"bias": [0.123], "weights": {"big": [0, 0.877]}}


def test_folds_are_balanced() -> None:
    fold = train_scorer.folds_of(list(range(23)), 5, 1)
    assert sorted(fold.count(k) for k in range(5)) == [4, 4, 5, 5, 5]


def test_thresholds_are_chosen_only_when_they_beat_the_rules() -> None:
    posts = [{"topics": ["pets"] if i % 2 else [], "signals": []} for i in range(20)]
    labels = ("topic:pets",)
    probs = [{"topic:pets": 0.9 if i % 2 else 0.1} for i in range(20)]
    nothing = [(set(), set())] * 20
    thresholds, keeps, _ = train_scorer.choose_thresholds(posts, probs, nothing, labels, train_scorer.Config())
    assert thresholds["topic:pets"] is not None and keeps == {}
    perfect_rules = [({"topic:pets"} if i % 2 else set(), set()) for i in range(20)]
    thresholds, keeps, _ = train_scorer.choose_thresholds(posts, probs, perfect_rules, labels, train_scorer.Config())
    assert thresholds["topic:pets"] is None and keeps == {}


def test_keep_threshold_is_chosen_when_the_model_rules_out_the_rules_false_alarms() -> None:
    # The rules fire on every post, but only odd ones are about pets; the model is sure of the even
    # ones (probability 0.01), so dropping a fired label below a keep threshold beats the rules.
    posts = [{"topics": ["pets"] if i % 2 else [], "signals": []} for i in range(20)]
    probs = [{"topic:pets": 0.6 if i % 2 else 0.01} for i in range(20)]
    noisy_rules = [({"topic:pets"}, set())] * 20
    thresholds, keeps, report = train_scorer.choose_thresholds(posts, probs, noisy_rules, ("topic:pets",), train_scorer.Config())
    assert keeps == {"topic:pets": 0.02}
    assert report["topic:pets"]["combined_f1"] == 1.0 and report["topic:pets"]["rules_f1"] < 0.7


def test_the_model_drops_a_fired_label_only_below_its_keep_threshold() -> None:
    text = "Got promoted today, but Dad is in hospital after a stroke."
    work, check_in = label_index("topic:work"), label_index("signal:check_in")
    rules = tag_post("", text, taxonomy=with_scorer(toy_scorer({}, {})))
    assert "work" in rules.topics and rules.signals == ("check_in",)
    sure_not = toy_scorer({"promot": [work, -9.0, check_in, -9.0]}, {}, keep={"topic:work": 0.02, "signal:check_in": 0.02})
    dropped = tag_post("", text, taxonomy=with_scorer(sure_not))
    assert "work" not in dropped.topics and "family" in dropped.topics
    # The rules' check_in is dropped too, but what it suppresses stays suppressed: never congratulated.
    assert "congratulate" not in dropped.signals and "check_in" not in dropped.signals
    unsure = toy_scorer({"promot": [work, -1.0]}, {}, bias=[0.0] * 13, keep={"topic:work": 0.02})  # p = 0.27
    assert "work" in tag_post("", text, taxonomy=with_scorer(unsure)).topics


def test_a_likely_check_in_suppresses_congratulate_even_where_it_is_not_added() -> None:
    # Only the language feature speaks for check_in here, and it is no evidence, so the model may
    # not add check_in; finding it likely is still enough to take the rules' congratulate (毕业) away.
    text = "本人已光荣毕业。不是学校，是公司。"
    check_in = label_index("signal:check_in")
    assert "congratulate" in tag_post("", text, taxonomy=with_scorer(toy_scorer({}, {}))).signals
    scorer = toy_scorer({"@zh": [check_in, 9.0]}, {"signal:check_in": 0.5})
    tags = tag_post("", text, taxonomy=with_scorer(scorer))
    assert "check_in" not in tags.signals and "congratulate" not in tags.signals


def test_shipped_weights_use_the_current_format() -> None:
    data = read_weights(WEIGHTS)
    assert data["format"] == 2 and set(data["keep"]) <= set(data["labels"])
    assert all(0 < keep < 0.5 for keep in data["keep"].values())


def test_scores_are_exact_whatever_the_order_features_come_in() -> None:
    scorer = toy_scorer({"a": [0, 0.1], "b": [0, 0.2], "c": [0, 0.3]}, {}, bias=[0.0] * 13)
    orders = [["a", "b", "c"], ["c", "b", "a"], ["b", "c", "a"]]
    assert {tuple(scorer.logits(dict.fromkeys(order).keys())) for order in orders} == {tuple([600] + [0] * 12)}


def test_written_weights_are_byte_identical_for_the_same_data(tmp_path: Path) -> None:
    data = {"labels": ["topic:pets"], "bias": [0.0], "weights": {"猫": [0, 1.0]}, "thresholds": {}}
    train_scorer.write(data, tmp_path / "a.json.gz")
    train_scorer.write(data, tmp_path / "b.json.gz")
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()
    assert read_weights(tmp_path / "a.json.gz") == data


def test_shipped_weights_were_trained_on_the_fixtures_as_they_are() -> None:
    shipped = read_weights(WEIGHTS)["training"]
    current = train_scorer.training_fingerprint(train_scorer.training_files())
    assert "final_blind_posts.jsonl" not in current["files"] and "final_blind_2_posts.jsonl" not in current["files"]
    assert shipped["files"] == current["files"], (
        "transforms/scorer.json.gz was trained on other data than tests/fixtures holds: "
        "run PYTHONPATH=. .venv/bin/python scripts/train_scorer.py and commit the weights"
    )


def test_shipped_weights_file_is_compact_and_well_formed() -> None:
    data = json.loads(gzip.decompress(WEIGHTS.read_bytes()))
    assert data["labels"] == list(train_scorer.model_labels())
    assert WEIGHTS.stat().st_size < 1_000_000
    assert all(t is None or 0 < t < 1 for t in data["thresholds"].values())


# --- combination -----------------------------------------------------------------------------


def test_model_adds_a_topic_with_marked_evidence_as_written() -> None:
    work = label_index("topic:work")
    scorer = toy_scorer({"deploi": [work, 6.0], "the": [work, 0.5]}, {"topic:work": 0.5})
    tags = tag_post("", "Deployed the thing on a Friday.", taxonomy=with_scorer(scorer))
    assert "work" in tags.topics
    assert tags.evidence["work"] == ("~deployed",)  # the stem shown as the word; "the" explains nothing


def test_model_needs_a_content_word_to_add_a_label() -> None:
    work = label_index("topic:work")
    scorer = toy_scorer({"the": [work, 9.0]}, {"topic:work": 0.5})
    assert "work" not in tag_post("", "The thing.", taxonomy=with_scorer(scorer)).topics


def test_chinese_evidence_is_the_ngram() -> None:
    sports = label_index("topic:sports")
    scorer = toy_scorer({"搬砖": [sports, 6.0]}, {"topic:sports": 0.5})
    tags = tag_post("", "周六还在搬砖", taxonomy=with_scorer(scorer))
    assert tags.evidence["sports"] == ("~搬砖",)


def test_model_adds_no_signal_the_rules_context_blocked() -> None:
    offer = label_index("signal:offer_help")
    scorer = toy_scorer({"hir": [offer, 9.0], "recruiter": [offer, 9.0]}, {"signal:offer_help": 0.6})
    taxonomy = with_scorer(scorer)
    assert scorer.probabilities(feats("We are not hiring right now."))["signal:offer_help"] > 0.99
    assert "offer_help" not in tag_post("", "We are not hiring right now.", taxonomy=taxonomy).signals
    assert "offer_help" in tag_post("", "Recruiters keep calling me.", taxonomy=taxonomy).signals


def test_check_in_still_suppresses_a_learned_congratulate() -> None:
    congratulate = label_index("signal:congratulate")
    scorer = toy_scorer({"offer": [congratulate, 9.0]}, {"signal:congratulate": 0.6})
    tags = tag_post("", "Got the offer letter the day my father passed away.", taxonomy=with_scorer(scorer))
    assert "check_in" in tags.signals and "congratulate" not in tags.signals


def test_taxonomy_exclusions_stop_the_model_too() -> None:
    pets = label_index("topic:pets")
    scorer = toy_scorer({"狗": [pets, 9.0], "dog": [pets, 9.0]}, {"topic:pets": 0.5})
    taxonomy = with_scorer(scorer)
    assert "pets" in tag_post("", "楼下的狗", taxonomy=taxonomy).topics
    assert "pets" not in tag_post("", "这周加班累成狗。", taxonomy=taxonomy).topics  # exclude_zh 成狗
    assert "pets" not in tag_post("", "Grabbed a hot dog at the stand.", taxonomy=taxonomy).topics  # exclude_en hot dog


def test_exclusions_find_exactly_what_their_pattern_finds() -> None:
    from transforms.scorer import _exclusions

    for label in load_taxonomy().labels:
        ex = _exclusions(label)
        if ex is None:
            continue
        for word in ex.words:
            for text in (word, f"x {word}s", f"x{word}", f"{word[:-1]}", f"前{word}后"):
                assert ex.found(text) == (ex.pattern.search(text) is not None), (label.id, text)


def test_chinese_posts_get_no_english_bias_feature() -> None:
    assert "@en" not in feats("今天上班。") and "。" in feats("今天上班。")


def test_a_label_without_threshold_is_never_added() -> None:
    work = label_index("topic:work")
    scorer = toy_scorer({"deploi": [work, 9.0]}, {})
    assert bind(scorer, load_taxonomy().labels) is None


def test_labels_a_user_adds_are_tagged_by_rules_alone(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[topics.gardening]\nen = ["garden"]\n', encoding="utf-8")
    taxonomy = load_taxonomy(path)
    assert taxonomy.scorer is not None
    assert "topic:gardening" not in taxonomy.scorer.scorer.labels
    assert tag_post("", "Repotted the tomatoes in the garden.", taxonomy=taxonomy).topics.count("gardening") == 1


def test_scorer_can_be_turned_off_and_changes_the_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "rules-only.toml"
    path.write_text("[scorer]\nenabled = false\n", encoding="utf-8")
    off, on = load_taxonomy(path), load_taxonomy()
    assert off.scorer is None and on.scorer is not None
    assert taxonomy_fingerprint(off) != taxonomy_fingerprint(on)
    other = dataclasses.replace(on, scorer=bind(on.scorer.scorer._replace(fingerprint="retrained"), on.labels))
    assert taxonomy_fingerprint(other) != taxonomy_fingerprint(on)
    posts = train_scorer.load_posts([FIXTURES / "labelled_posts.jsonl"])
    learned = [p["id"] for p in posts if any(word.startswith("~") for words in tag_post(p["title"], p["text"], taxonomy=off).evidence.values() for word in words)]
    assert learned == []


def test_bad_scorer_table_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[scorer]\nenabled = "yes"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"^taxonomy: invalid .*bad.toml: scorer: expected a table with enabled = true or false$"):
        load_taxonomy(path)


def test_shipped_scorer_is_loaded_once_and_only_when_a_post_is_tagged() -> None:
    assert load_scorer() is load_scorer()
    lazy = LazyBound(load_taxonomy().labels)
    assert lazy._loaded is False and lazy.fingerprint == load_scorer().fingerprint
    assert lazy._loaded is False  # the fingerprint reads the file's hash, not the weights
    assert lazy.decide("deployed on friday", set(), set()) == lazy.bound.decide("deployed on friday", set(), set())
    assert lazy._loaded is True


def test_no_post_in_any_set_is_congratulated_and_checked_in() -> None:
    clashes = []
    for path in sorted(FIXTURES.glob("*posts*.jsonl")):
        for post in train_scorer.load_posts([path]):
            tags = tag_post(post["title"], post["text"])
            if "check_in" in tags.signals and "congratulate" in tags.signals:
                clashes.append(post["id"])
            if "check_in" in post["signals"] and "congratulate" in tags.signals:
                clashes.append(post["id"])
    assert clashes == []


def test_packed_sums_equal_plain_column_sums_with_negative_and_large_weights() -> None:
    scorer = toy_scorer({"a": [0, -20.0, 12, 30.5], "b": [0, 7.25, 1, -0.001, 12, -40.0], "c": [5, 0.002]}, {}, bias=[-1.5] * 13)
    for matched in ({"a"}, {"b"}, {"a", "b", "c"}, set()):
        plain = [sum(column) for column in zip(scorer.bias, *(scorer.weights[f] for f in matched))]
        assert scorer.logits(matched) == plain


def test_one_weight_read_alone_equals_its_slot_in_the_unpacked_vector() -> None:
    toy = toy_scorer({"a": [0, -20.0, 12, 30.5], "b": [0, 7.25, 1, -0.001, 12, -40.0], "c": [5, 0.002]}, {})
    for scorer in (load_scorer(), toy):
        for feature, vector in scorer.weights.items():
            assert [scorer.weight(feature, out) for out in range(len(scorer.labels))] == list(vector)
