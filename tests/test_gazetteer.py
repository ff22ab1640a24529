"""Tests for the scorer's class features (transforms/gazetteer.py and its lists)."""

from __future__ import annotations

from scripts import train_scorer
from tests.test_scorer import toy_scorer, with_scorer
from transforms.gazetteer import FOLDER, load_gazetteer
from transforms.scorer import WEIGHTS, features, read_weights
from transforms.tagging import _en_stems as en_stems
from transforms.tagging import _normalise_post, tag_post


def classes(text: str) -> set[str]:
    """The class features of a raw post text, normalised as the tagger does."""
    return {f for f in features(_normalise_post(text)) if isinstance(f, str) and f.startswith("=")}


def test_english_names_give_their_class_whatever_their_ending() -> None:
    assert classes("Finally watched Oppenheimer last night") == {"=screen"}
    assert classes("Three ramen shops in one weekend") >= {"=dish"}
    assert classes("Landed in Lisbon!") == {"=place"}
    assert classes("nothing to see here") == set()


def test_a_long_entry_counts_only_whole() -> None:
    assert "=screen" in classes("A Lord of the Rings marathon tonight")
    assert "=screen" not in classes("The lord of the manor")


def test_chinese_and_traditional_names_give_their_class() -> None:
    assert classes("周末去成都吃火锅") == {"=place", "=dish"}
    assert classes("週末去成都吃火鍋") == {"=place", "=dish"}
    assert classes("c罗又进球了") == {"=sport"}


def test_an_entry_the_tokeniser_reads_as_one_letter_is_left_out() -> None:
    assert "c" not in load_gazetteer().english  # "c++" and "c#" would match every "c"


def test_every_list_file_has_entries_and_a_header() -> None:
    for path in sorted(FOLDER.glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("#"), path.name
        assert sum(1 for line in lines if line.strip() and not line.startswith("#")) >= 100, path.name


def test_a_class_feature_shows_the_name_as_evidence() -> None:
    entertainment = train_scorer.model_labels().index("topic:entertainment")
    scorer = toy_scorer({"=screen": [entertainment, 6.0]}, {"topic:entertainment": 0.5})
    tags = tag_post("", "Finally saw Oppenheimer.", taxonomy=with_scorer(scorer))
    assert tags.evidence["entertainment"] == ("~oppenheimer",)
    assert tag_post("", "周末在家补了甄嬛传", taxonomy=with_scorer(scorer)).evidence["entertainment"] == ("~甄嬛传",)


def test_shipped_weights_were_trained_with_the_lists_as_they_are() -> None:
    assert read_weights(WEIGHTS)["training"]["gazetteer"] == load_gazetteer().fingerprint, (
        "transforms/gazetteer/ changed since transforms/scorer.json.gz was trained: "
        "run PYTHONPATH=. .venv/bin/python scripts/train_scorer.py and commit the weights"
    )


def test_no_english_entry_stems_to_a_function_word() -> None:
    from transforms.scorer import _FUNCTION_STEMS, _PLAIN

    plain = _FUNCTION_STEMS | set(en_stems(sorted(_PLAIN)))
    assert not [key for key in load_gazetteer().english if isinstance(key, str) and key in plain]  # "herring" stems to "her"
