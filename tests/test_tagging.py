"""Tests for the topic/signal tagger, language detection and taxonomy loading.

The labelled set (fixtures/labelled_posts.jsonl) was written and labelled by hand before the
tagger existed. Labelling conventions: topics are what a post is substantially about;
congratulate is a milestone of the poster or their immediate family (not a friend's);
offer_help is the poster asking, hiring, moving or looking for something (not recommending);
check_in is illness, bereavement, layoff or hardship, and never comes with congratulate.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.lang import detect_lang
from transforms.tagging import load_taxonomy, tag_post, taxonomy_fingerprint

FIXTURES = Path(__file__).parent / "fixtures" / "labelled_posts.jsonl"
POSTS = [json.loads(line) for line in FIXTURES.read_text(encoding="utf-8").splitlines() if line.strip()]
# A second set written (and labelled before tuning) for the second round: everyday posts where
# workplace words sit in food or sports posts, travel named by places and verbs, family by kinship.
FIXTURES_2 = Path(__file__).parent / "fixtures" / "labelled_posts_2.jsonl"
POSTS_2 = [json.loads(line) for line in FIXTURES_2.read_text(encoding="utf-8").splitlines() if line.strip()]
# A third set written blind by someone else; used for tuning from round three on (no longer held out).
FIXTURES_H = Path(__file__).parent / "fixtures" / "heldout_posts.jsonl"
POSTS_H = [json.loads(line) for line in FIXTURES_H.read_text(encoding="utf-8").splitlines() if line.strip()]
# A fourth set written blind; used for tuning from round four on.
FIXTURES_B = Path(__file__).parent / "fixtures" / "blind_posts.jsonl"
POSTS_B = [json.loads(line) for line in FIXTURES_B.read_text(encoding="utf-8").splitlines() if line.strip()]

# Floors sit a little under what the tagger (rules + learned scorer) achieves on each set, so
# regressions fail. The scorer is trained on these sets too, so they guard against regressions;
# they do not measure quality on unseen posts (final_blind_posts.jsonl and the cross-validated
# figures in transforms/scorer.json.gz do).
FLOORS = {
    ("en", "topics"): 0.93,
    ("en", "signals"): 0.97,
    ("zh", "topics"): 0.92,
    ("zh", "signals"): 0.96,
}
FLOORS_2 = {
    ("en", "topics"): 0.93,
    ("en", "signals"): 0.97,
    ("zh", "topics"): 0.95,
    ("zh", "signals"): 0.92,
}
FLOORS_B = {
    ("en", "topics"): 0.92,
    ("en", "signals"): 0.91,
    ("zh", "topics"): 0.92,
    ("zh", "signals"): 0.94,
}
FLOORS_H = {
    ("en", "topics"): 0.92,
    ("en", "signals"): 0.97,
    ("zh", "topics"): 0.93,
    ("zh", "signals"): 0.95,
}

# The sealed sets: never tuned on, never trained on (scripts/train_scorer.py SEALED). Their floors
# sit a little under today's scores on them, so they measure posts the tagger has not seen.
FIXTURES_F = Path(__file__).parent / "fixtures" / "final_blind_posts.jsonl"
POSTS_F = [json.loads(line) for line in FIXTURES_F.read_text(encoding="utf-8").splitlines() if line.strip()]
FIXTURES_F2 = Path(__file__).parent / "fixtures" / "final_blind_2_posts.jsonl"
POSTS_F2 = [json.loads(line) for line in FIXTURES_F2.read_text(encoding="utf-8").splitlines() if line.strip()]
FLOORS_F = {
    ("en", "topics"): 0.86,
    ("en", "signals"): 0.92,
    ("zh", "topics"): 0.84,
    ("zh", "signals"): 0.86,
}
FLOORS_F2 = {
    ("en", "topics"): 0.83,
    ("en", "signals"): 0.87,
    ("zh", "topics"): 0.90,
    ("zh", "signals"): 0.95,
}


def signals(text: str, title: str = "") -> tuple[str, ...]:
    """Signals of a post."""
    return tag_post(title, text).signals


def topics(text: str, title: str = "") -> tuple[str, ...]:
    """Topics of a post."""
    return tag_post(title, text).topics


# --- language -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Finally hiked the Dragon's Back trail this weekend.", "en"),
        ("周末在奥森跑了个半马，腿废了。", "zh"),
        ("今天正式升職為資深工程師", "zh"),
        ("拿到了Google的offer！Finally, 三年的努力没有白费", "zh"),
        ("Happy 中秋 everyone! Mooncakes with the team this afternoon.", "en"),
        ("", "en"),
        ("🎉🎉🎉", "en"),
    ],
)
def test_detect_lang(text: str, lang: str) -> None:
    assert detect_lang(text) == lang


@given(st.lists(st.sampled_from(["中", "文字", "a", "word", " ", "\n", "1", "é", "Ab"]), max_size=40))
@settings(max_examples=300, deadline=None)
def test_detect_lang_counts_only_what_it_needs(parts: list[str]) -> None:
    # The early exits must give the share over every character and word of the text.
    text = "".join(parts)
    cjk = sum(part in ("中", "文字") and len(part) for part in parts)
    words = len(re.findall(r"[A-Za-z]+", text))
    assert detect_lang(text) == ("zh" if cjk and cjk / (cjk + words) >= 0.4 else "en")


def test_detect_lang_labelled_set() -> None:
    wrong = [p["id"] for p in POSTS if detect_lang(f"{p['title']}\n{p['text']}") != p["lang"]]
    assert wrong == []


# --- English matching -----------------------------------------------------------------------


@given(st.lists(st.sampled_from(["can", "won", "ain", "is", "n", "t", "re", "s", "'", "'t", " ", "x", "é", "1"]), max_size=30))
@settings(max_examples=500, deadline=None)
def test_contractions_expanded_like_one_regex_pass(parts: list[str]) -> None:
    # The apostrophe-driven expansion must equal a plain substitution over the whole text.
    from transforms.tagging import _CONTRACTION, _expand_contraction, _expand_contractions

    text = "".join(parts)
    assert _expand_contractions(text) == _CONTRACTION.sub(_expand_contraction, text)


@pytest.mark.parametrize("text", ["Hiked the ridge today.", "Hiking with the kids.", "She hikes every Sunday.", "A long hike."])
def test_english_inflections_match_the_keyword(text: str) -> None:
    assert "travel" in topics(text)


def test_evidence_shows_the_words_as_written() -> None:
    tags = tag_post("", "We hiked up Tiger Mountain and ate hotpot after.")
    assert tags.evidence["travel"] == ("hiked",)
    assert "hotpot" in tags.evidence["food"]


def test_post_without_labels() -> None:
    tags = tag_post("", "Good morning. That's the post.")
    assert (tags.topics, tags.signals, tags.evidence) == ((), (), {})


# --- negation and hedging -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "We are not hiring right now, please stop sending CVs.",
        "We're not currently hiring.",
        "No longer looking for a roommate, thanks everyone!",
        "Not looking for a new role, recruiters.",
        "我们没有在招人，请不要再寄简历了。",
        "没有在找工作，猎头们请不要再打电话了",
    ],
)
def test_negated_requests_are_not_offer_help(text: str) -> None:
    assert "offer_help" not in signals(text)


@pytest.mark.parametrize("text", ["没有被裁，只是换了个组，大家别担心。", "I haven't been laid off, just moved teams."])
def test_negated_layoff_is_not_check_in(text: str) -> None:
    assert "check_in" not in signals(text)


@pytest.mark.parametrize(
    "text",
    [
        "不是我升职，是我们组长升职了，请客吃饭而已。",
        "This isn't a promotion announcement, just a reorg.",
        "Not promoted this cycle. 没关系，明年再战。",
    ],
)
def test_negated_milestones_are_not_congratulate(text: str) -> None:
    assert "congratulate" not in signals(text)


def test_negation_that_expresses_surprise_still_congratulates() -> None:
    assert "congratulate" in signals("Can't believe I finally got my AWS certification!")


@pytest.mark.parametrize(
    "text",
    [
        "I was really hoping to get promoted this cycle but it didn't happen.",
        "如果明年能升职，就带爸妈去日本玩一趟。",
        "考研还有一百天，希望能上岸。",
    ],
)
def test_hedged_milestones_are_not_congratulate(text: str) -> None:
    assert "congratulate" not in signals(text)


@pytest.mark.parametrize("text", ["If I get laid off in the next round I'll travel.", "万一被裁了，房贷还有二十年。"])
def test_hypothetical_layoff_is_not_check_in(text: str) -> None:
    assert "check_in" not in signals(text)


# --- questions and requests -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "有没有人推荐一下适合初学者的机器学习课程？",
        "求推荐成都好吃的火锅店",
        "求推薦台北好吃的牛肉麵",
        "Any recommendations for food in Lisbon?",
        "Looking for advice on managing an intern.",
        "Where do people buy decent sourdough in Beijing?",
        "下个月搬到深圳，有推荐的小区吗？",
        "求助：Mac 上的 Docker 一直报错，有没有大佬知道怎么解决？",
        "My team is hiring two backend engineers.",
    ],
)
def test_requests_are_offer_help(text: str) -> None:
    assert "offer_help" in signals(text)


@pytest.mark.parametrize(
    "text",
    ["I recommend the new dumpling place on Chaoyang Road.", "《哪吒》二刷，强烈推荐。", "下个月加入字节，做推荐系统。"],
)
def test_recommending_is_not_asking(text: str) -> None:
    assert "offer_help" not in signals(text)


def test_looking_forward_is_not_looking_for() -> None:
    assert "offer_help" not in signals("Long week of sprint reviews. Looking forward to a quiet weekend.")


# --- sensitive posts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Laid off after 10 years at the company. Still processing it.",
        "奶奶走了，今天是她的生日。",
        "Grandma's birthday would have been today. Miss you, Nai Nai.",
        "Two weeks after my promotion, my dad passed away.",
        "本来今天要庆祝升职的，结果接到电话说外公病危。",
        "Got promoted 🎉 but Dad had a stroke on Tuesday and is in the ICU.",
    ],
)
def test_sensitive_posts_get_check_in_and_never_congratulate(text: str) -> None:
    found = signals(text)
    assert "check_in" in found
    assert "congratulate" not in found


def test_labelled_check_in_posts_never_get_congratulate() -> None:
    clashes = [p["id"] for p in POSTS + POSTS_2 + POSTS_H + POSTS_B if "check_in" in p["signals"] and "congratulate" in tag_post(p["title"], p["text"]).signals]
    assert clashes == []


_SENTENCES = [s for p in POSTS for s in p["text"].replace("！", "。").replace("!", ".").split("。") if s]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_SENTENCES), min_size=1, max_size=6))
def test_check_in_and_congratulate_never_together(parts: list[str]) -> None:
    found = set(signals("。".join(parts)))
    assert not {"check_in", "congratulate"} <= found


# --- whose milestone ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Congrats to my friend Priya on her wedding last weekend!",
        "Happy birthday to my friend Sam!",
        "恭喜小王升职！以后要叫王总了。",
        "听说隔壁组的小李拿到了年度最佳员工奖。",
        "参加了大学室友的婚礼，好感慨。",
    ],
)
def test_other_peoples_milestones_are_not_congratulate(text: str) -> None:
    assert "congratulate" not in signals(text)


@pytest.mark.parametrize(
    "text",
    [
        "Got promoted to engineering manager today 🎉",
        "We got married! Small ceremony in Suzhou.",
        "Happy birthday to my little brother, who is somehow 25 now.",
        "我老婆今天升职了，晚上去吃顿好的庆祝一下！",
        "Graduation day for my son! Class of 2025.",
        "恭喜我自己，考公上岸了！",
    ],
)
def test_own_and_family_milestones_are_congratulate(text: str) -> None:
    assert "congratulate" in signals(text)


# --- Chinese specifics ----------------------------------------------------------------------


def test_traditional_chinese_is_understood() -> None:
    tags = tag_post("升職了", "今天正式升職為資深工程師，謝謝團隊一直以來的支持！🎉")
    assert tags.signals == ("congratulate",)
    assert "work" in tags.topics
    assert tags.lang == "zh"


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("考公上岸了！三年没白熬", "congratulate"),
        ("官宣！下个月正式加入新团队🎉", "congratulate"),
        ("毕业快乐！硕士答辩终于过了", "congratulate"),
        ("求助！笔记本进水了，开不了机", "offer_help"),
        ("被毕业了。说好听点叫优化。", "check_in"),
        ("RIP 外公. 谢谢你教会我下象棋。", "check_in"),
    ],
)
def test_chinese_social_slang(text: str, signal: str) -> None:
    assert signal in signals(text)


def test_slang_for_work() -> None:
    assert "work" in topics("又是加班到十一点的一天，打工人的命。")


def test_party_emoji_alone_is_not_a_milestone() -> None:
    assert "congratulate" not in signals("周末愉快 🎉")


@pytest.mark.parametrize(
    ("text", "label"),
    [("被裁判罚下场的那一刻，全场都安静了。", "check_in"), ("周末带娃去动物园，看了熊猫。", "pets"), ("中午吃了个热狗。", "pets")],
)
def test_word_boundaries_from_segmentation(text: str, label: str) -> None:
    tags = tag_post("", text)
    assert label not in tags.topics + tags.signals


@pytest.mark.parametrize(
    ("text", "wanted", "unwanted"),
    [
        ("公司楼下新开了一家生煎，皮薄底脆，汤汁多到烫嘴", {"food"}, {"work"}),
        ("周四晚上和同事去梅赛德斯奔驰文化中心看 CBA，上海对北京，最后三秒绝杀", {"sports"}, {"work"}),
        ("周末和老婆去莫干山走了剑池到芦花荡那条线，全程 14 公里", {"family", "travel"}, set()),
        ("Married my favourite person on Saturday 💍", {"family", "congratulate"}, {"pets"}),
        ("Team lunch at the new ramen place near the office.", {"food"}, {"work"}),
        ("Spent the whole day in sprint planning and a deadline review with my manager.", {"work"}, set()),
    ],
)
def test_workplace_words_do_not_swamp_other_topics(text: str, wanted: set[str], unwanted: set[str]) -> None:
    tags = tag_post("", text)
    found = set(tags.topics + tags.signals)
    assert wanted <= found and not unwanted & found, (tags.topics, tags.signals, tags.evidence)


def test_ambiguous_boundaries_still_go_through_jieba() -> None:
    # 被裁判: 裁判 straddles 被裁's end, so the clause is segmented and 被裁 does not match.
    tags = tag_post("", "比赛最后他被裁判罚下场了，我们公司同事都在看。")
    assert "check_in" not in tags.signals
    assert "sports" in tags.topics


def test_boundary_check_agrees_with_the_dictionary_walk() -> None:
    # _straddled looks only where a word can straddle, _ambiguous walks from every start: both must
    # call the same boundaries ambiguous, for every keyword placed between neighbours from real posts.
    from transforms import tagging

    taxonomy = load_taxonomy()
    tag_post("", "被裁判罚下场", taxonomy=taxonomy)  # loads jieba
    tagging.read_dictionary()  # all of it (a state from the disk cache is read as posts need it)
    compiled = taxonomy._compiled
    text = "".join(json.loads(line)["text"] for line in FIXTURES.read_text(encoding="utf-8").splitlines() if line.strip())
    chars = sorted({char for char in text if "\u4e00" <= char <= "\u9fff"})[:400] + ["熊", "判", "店", "赛"]
    checked = straddled = 0
    for word in sorted(compiled.zh_keys)[::3]:
        for i, before in enumerate(chars[::7]):
            for after in chars[i % 5 :: 37]:
                for left in (before, before * 2, ""):
                    clause = f"{left}{word}{after}"
                    start, end = len(left), len(left) + len(word)
                    expected = tagging._ambiguous(clause, start, end, compiled.words)
                    assert tagging._straddled(clause, start, end, compiled.words) == expected, (clause, word)
                    checked += 1
                    straddled += expected
    assert checked > 1000 and 0 < straddled < checked
    # Dictionary words holding a short keyword strictly inside (篮球赛 around 球) straddle both ends.
    inside = 0
    for candidate, freq in compiled.words.items():
        if not freq or not 3 <= len(candidate) <= 4:
            continue
        for start in range(1, len(candidate) - 1):
            for size in (1, 2):
                word = candidate[start : start + size]
                if start + size < len(candidate) and word in compiled.zh_keys:
                    clause = f"{candidate}"
                    expected = tagging._ambiguous(clause, start, start + size, compiled.words)
                    assert tagging._straddled(clause, start, start + size, compiled.words) == expected, (clause, word)
                    inside += 1
    assert inside > 100


def test_segmenter_cuts_exactly_like_jieba() -> None:
    # The tagger's own walk of jieba's DAG must give jieba's words for every clause it may meet.
    from transforms import tagging

    taxonomy = load_taxonomy()
    tag_post("", "被裁判罚下场", taxonomy=taxonomy)
    tagging.read_dictionary()  # jieba's own cut below reads any part of it
    segment = taxonomy._compiled.segment
    texts = [json.loads(line)["text"] for path in (FIXTURES, FIXTURES_2, FIXTURES_H, FIXTURES_B) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += ["拿到了Google的offer!!", "3.5km跑完 #打卡", "a b\r\nc 中 文", "被裁判罚下场", "熊猫和猫", "", "。。。", "ab12中c"]
    # Long blocks with no punctuation (cut into pieces at forced boundaries, each piece kept).
    chinese = ["".join(re.findall(r"[\u4e00-\u9fff]+", text)) for text in texts]
    texts += ["".join(chinese[i : i + 7]) for i in range(0, len(chinese), 7)]
    texts += ["".join(chinese[i : i + 5]) + "ab3" + "".join(chinese[i + 5 : i + 9]) for i in range(0, len(chinese), 9)]
    for _ in range(2):  # the second time from the pieces kept
        for text in texts:
            assert segment(text) == tagging._JIEBA.lcut(text, HMM=False), text


def _stitched_clauses(seed: int, count: int) -> list[str]:
    """Clauses stitched from keywords, exclusions, common characters, Latin letters and digits and
    the characters keywords hold outside jieba's blocks ("过了!", "「毕业」")."""
    import random

    compiled = load_taxonomy()._compiled
    rng = random.Random(seed)
    alphabet = [*compiled.zh_keys, *compiled.zh_exclude, *"的了是我你他a1b9!?「」'~…-。.", "过了!", "ab", "12"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(count)]


def test_clause_units_are_jiebas_cut_and_give_its_hits() -> None:
    # The tagger reads a clause unit by unit: the units' words must be the clause's words, and each
    # unit's keyword hits (moved to the clause's positions) the clause's hits, in the same order.
    from transforms import tagging

    taxonomy = load_taxonomy()
    tag_post("", "被裁判罚下场", taxonomy=taxonomy)
    tagging.read_dictionary()  # jieba's own cut below reads any part of it
    compiled = taxonomy._compiled
    texts = [json.loads(line)["text"] for path in (FIXTURES, FIXTURES_2, FIXTURES_H, FIXTURES_B) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    clauses = [m.group() for text in texts for m in tagging._ZH_CLAUSE.finditer(tagging._normalise_post(text))]
    clauses += _stitched_clauses(4, 3000)
    checked = 0
    for clause in clauses:
        units = compiled.units(clause)
        if units is None:  # a near tie somewhere: the clause is cut whole instead
            continue
        assert "".join(text for text, _ in units) == clause
        words = [word for _, unit in units for word in unit]
        assert words == compiled.segment(clause) == tagging._JIEBA.lcut(clause, HMM=False), clause
        hits, excluded, at = [], [], 0
        for _, unit in units:
            found, gone = tagging._zh_clause_hits(list(unit), compiled)
            hits += [tagging._Hit(hit.key, hit.start + at, hit.end + at, hit.surface) for hit in found]
            excluded += [(label, start + at, end + at) for label, start, end in gone]
            at += len(unit)
        assert (hits, excluded) == tagging._zh_clause_hits(words, compiled), clause
        checked += 1
    assert checked > 3000


def _tags_both_ways(texts: list[str], monkeypatch: pytest.MonkeyPatch, every_hit: Callable[..., None]) -> int:
    """Tag each text as the tagger does and again after `every_hit()` made it read every hit it
    may leave out; returns how many tags were compared (they must all be the same)."""
    from benchmarks.bench_tagging import rules_only
    from transforms import tagging

    compared = 0
    for taxonomy in (load_taxonomy(), rules_only()):  # the scorer could hide a difference
        compiled = taxonomy._compiled
        tag_post("", "被裁判罚下场", taxonomy=taxonomy)
        fast = []
        for text in texts:
            compiled.zh_sentences.clear()  # each reading made afresh, not recalled
            fast.append(tag_post("", text, taxonomy=taxonomy))
        with monkeypatch.context() as patch:
            every_hit(patch, tagging, compiled)
            for text, tags in zip(texts, fast):
                compiled.zh_sentences.clear()
                assert tag_post("", text, taxonomy=taxonomy) == tags, text
                compared += 1
    return compared


def test_units_left_out_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Repeats of a unit whose hits need no context are left out of a clause's hits: the tags and
    # evidence are those of reading every hit of the clause.
    def every_hit(patch, tagging, compiled) -> None:
        def all_hits(units, compiled, reading):
            tokens = [word for _, unit in units for word in unit]
            return (tokens, *tagging._zh_clause_hits(tokens, compiled))

        patch.setattr(tagging, "_zh_unit_hits", all_hits)

    clauses = _stitched_clauses(5, 1500)
    texts = ["".join(clauses[i : i + 6]) for i in range(0, len(clauses), 6)] + ["被裁判罚下场如果升职就好了大家一起吃饭看电影喝茶然后升职"]
    assert _tags_both_ways(texts, monkeypatch, every_hit) > 400


def test_english_hits_listed_once_read_like_every_hit(monkeypatch: pytest.MonkeyPatch) -> None:
    # One-word hits that need no context are listed once per keyword and surface (the rest would
    # find them counted); where such a repeat could be dropped (by an exclusion or a longer keyword
    # of its label) its repeats are put back. Either way the tags are those of listing every hit.
    import random

    from transforms import tagging

    def every_hit(patch, tagging, compiled) -> None:
        patch.setattr(compiled, "en_free", frozenset())
        patch.setattr(compiled, "en_simple", {})

    compiled = load_taxonomy()._compiled
    words = [word for label in compiled.labels for word in (*label.en, *label.en_ask, *label.exclude_en)]
    words += "the my not if friend hiking hikes hiked , . ? and lantern festival".split()
    rng = random.Random(6)
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 60))) for _ in range(1500)]
    put_back = 0
    for text in texts:
        tokens = tagging._EN_POST_TOKEN.findall(tagging._normalise_post(text))
        put_back += tagging._en_hits(tokens, tagging._en_stems(tokens), compiled, tagging._Tally())[2]
    assert put_back > 0
    assert _tags_both_ways(texts, monkeypatch, every_hit) == 3000


def test_segmenter_knows_words_another_taxonomy_added_later(tmp_path: Path) -> None:
    # Bug fixed: the character pairs inside dictionary words were kept per dictionary object, so
    # words a second taxonomy added in the same process were missing from them.
    from transforms import tagging

    tag_post("", "被裁判罚下场", taxonomy=load_taxonomy())
    path = tmp_path / "rare.toml"
    path.write_text('[topics.rare]\nen = ["rare bird"]\nzh = ["龘靐鸟"]\n', encoding="utf-8")
    custom = load_taxonomy(path)
    text = "今天看到龘靐鸟很好看"
    assert "rare" in tag_post("", text, taxonomy=custom).topics
    assert custom._compiled.segment(text) == tagging._JIEBA.lcut(text, HMM=False)
    assert "龘靐" in custom._compiled.joins


def test_compound_words_still_match_their_keyword() -> None:
    assert "sports" in topics("公司篮球赛我们部门拿了冠军")


@pytest.mark.parametrize(
    "text",
    [
        "春节回老家，一家人包饺子看春晚。",
        "中秋节和爸妈一起吃月饼赏月。",
        "端午节在家包粽子。",
        "Happy Diwali from our family to yours!",
        "Merry Christmas and happy holidays!",
        "新年快樂！今年除夕在外婆家圍爐。",
    ],
)
def test_festivals(text: str) -> None:
    assert "festivals" in topics(text)


def test_mixed_language_post() -> None:
    tags = tag_post("", "We're hiring in Shenzhen! 后端和数据岗位都有，英语工作环境，DM me.")
    assert tags.signals == ("offer_help",)
    assert "work" in tags.topics
    assert tags.lang == "zh"


# --- labelled set ---------------------------------------------------------------------------


def _f1(tp: int, fp: int, fn: int) -> float:
    """F1 from counts; 1.0 when there is nothing to find and nothing was found."""
    if tp == 0:
        return 1.0 if fp == fn == 0 else 0.0
    return 2 * tp / (2 * tp + fp + fn)


@pytest.mark.parametrize(
    ("posts", "floors"),
    [(POSTS, FLOORS), (POSTS_2, FLOORS_2), (POSTS_H, FLOORS_H), (POSTS_B, FLOORS_B), (POSTS_F, FLOORS_F), (POSTS_F2, FLOORS_F2)],
    ids=["set1", "set2", "set3", "set4", "sealed1", "sealed2"],
)
def test_labelled_set_meets_per_language_floors(posts: list[dict], floors: dict[tuple[str, str], float]) -> None:
    counts: Counter[tuple[str, str, str]] = Counter()
    for post in posts:
        tags = tag_post(post["title"], post["text"])
        for kind in ("topics", "signals"):
            gold, got = set(post[kind]), set(getattr(tags, kind))
            counts[(post["lang"], kind, "tp")] += len(gold & got)
            counts[(post["lang"], kind, "fp")] += len(got - gold)
            counts[(post["lang"], kind, "fn")] += len(gold - got)
    scores = {
        (lang, kind): _f1(*(counts[(lang, kind, part)] for part in ("tp", "fp", "fn"))) for lang, kind in floors
    }
    below = {key: round(score, 3) for key, score in scores.items() if score < floors[key]}
    print("scores:", {f"{lang} {kind}": round(score, 3) for (lang, kind), score in sorted(scores.items())})  # pytest -rP shows them
    assert below == {}, f"below floor: {below} (all: {scores})"


def test_labelled_set_is_balanced_and_well_formed() -> None:
    assert len(POSTS) >= 160
    assert len({p["id"] for p in POSTS}) == len(POSTS)
    langs = Counter(p["lang"] for p in POSTS)
    assert min(langs["zh"], langs["en"]) >= 0.4 * len(POSTS)
    taxonomy = load_taxonomy()
    for post in POSTS:
        assert set(post["topics"]) <= set(taxonomy.topics), post["id"]
        assert set(post["signals"]) <= set(taxonomy.signals), post["id"]


# --- import cost ----------------------------------------------------------------------------


def test_importing_the_tagger_does_not_import_jieba() -> None:
    code = "import sys, transforms.tagging; print('jieba' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(root), "PATH": ""})
    assert out.stdout.strip() == "False"


# --- taxonomy files -------------------------------------------------------------------------


def test_default_taxonomy_has_the_stable_ids() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.topics == (
        "travel", "food", "family", "sports", "entertainment", "tech", "work", "learning", "pets", "festivals",
    )
    assert taxonomy.signals == ("congratulate", "offer_help", "check_in")


def test_user_file_adds_a_topic_and_extends_a_label(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[topics.gardening]\nen = ["garden", "tomato plant"]\nzh = ["园艺", "种菜"]\n\n'
        '[topics.pets]\nen = ["axolotl"]\n\n'
        # The learned scorer reads "tomato" as food; an exclusion in the user's file stops it too.
        '[topics.food]\nexclude_en = ["tomato plant"]\n',
        encoding="utf-8",
    )
    taxonomy = load_taxonomy(path)
    assert taxonomy.topics[-1] == "gardening"
    tags = tag_post("", "Repotted the tomato plants and fed the axolotl.", taxonomy=taxonomy)
    assert set(tags.topics) == {"gardening", "pets"}
    assert tags.evidence["gardening"] == ("tomato plants",)
    assert "gardening" in tag_post("", "周末在阳台种菜", taxonomy=taxonomy).topics
    assert "gardening" not in tag_post("", "Repotted the tomato plants.").topics
    assert "dog" in taxonomy.labels[taxonomy.topics.index("pets")].en


def test_user_file_can_start_from_scratch(tmp_path: Path) -> None:
    path = tmp_path / "only.toml"
    path.write_text('inherit = false\n[signals.moving]\nen = ["moving to"]\n', encoding="utf-8")
    taxonomy = load_taxonomy(path)
    assert (taxonomy.topics, taxonomy.signals) == ((), ("moving",))
    assert tag_post("", "Moving to Berlin!", taxonomy=taxonomy).signals == ("moving",)


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ('[topics.hobbies]\nen = "knitting"\n', "topics.hobbies.en"),
        ('[topics.hobbies]\nen = ["knitting"]\ncolour = "red"\n', "topics.hobbies.colour"),
        ('[topics.hobbies]\nen = ["knitting"]\nthreshold = -1\n', "topics.hobbies.threshold"),
        ('[topics.hobbies]\nen = ["knitting"]\nweights = { "crochet" = 0.5 }\n', "topics.hobbies.weights.crochet"),
        ('[signals.brag]\nen = ["won"]\nblock_when = ["sarcasm"]\n', "signals.brag.block_when"),
        ('[signals.brag]\nen = ["won"]\nsuppresses = ["nope"]\n', "signals.brag.suppresses"),
        ('[topics.Hobbies]\nen = ["knitting"]\n', "topics.Hobbies"),
        ('[topics.hobbies]\nzh = ["knitting"]\n', "topics.hobbies.zh"),
        ('[topics.hobbies]\ndescription = "no keywords"\n', "topics.hobbies"),
        ('[signals.travel]\nen = ["trip"]\n', "signals.travel"),
        ('[topics.hobbies\nen = ["knitting"]\n', "(syntax)"),
    ],
)
def test_invalid_taxonomy_raises_one_line_error_naming_file_and_key(tmp_path: Path, content: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load_taxonomy(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    assert key in message


def test_missing_taxonomy_file_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nothing.toml"):
        load_taxonomy(tmp_path / "nothing.toml")


def test_fingerprint_is_stable_and_tracks_content(tmp_path: Path) -> None:
    default = taxonomy_fingerprint(load_taxonomy())
    path = tmp_path / "same.toml"
    path.write_text("", encoding="utf-8")
    assert taxonomy_fingerprint(load_taxonomy(path)) == default
    path.write_text('[topics.pets]\nen = ["axolotl"]\n', encoding="utf-8")
    assert taxonomy_fingerprint(load_taxonomy(path)) != default
    assert len(default) == 16 and int(default, 16) >= 0


# --- round three: public figures, incidental uses, word families ------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Sad to hear the actor from my favourite childhood show died today.",
        "热搜上说某歌手确诊了，网友都在刷祝福。",
        "那位老演员去世了，一路走好。",
    ],
)
def test_public_figures_news_is_not_check_in(text: str) -> None:
    assert "check_in" not in signals(text)


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("My brother was in a car accident last night and is in the hospital.", "check_in"),
        ("爸爸做完手术还在重症监护，这几天睡不着。", "check_in"),
        ("公司倒闭了，下周开始找工作。", "check_in"),
        ("We just launched our first mobile app!", "congratulate"),
        ("终于拿到offer了！下周入职。", "congratulate"),
        ("求介绍靠谱的装修师傅，有偿。", "offer_help"),
    ],
)
def test_word_families_beyond_the_labelled_sets(text: str, signal: str) -> None:
    assert signal in signals(text)


@pytest.mark.parametrize(
    "text",
    [
        "Chocolate birthday cake recipe that never fails.",
        "分享一个生日蛋糕的配方，新手也能做。",
        "Launch day for the new coffee menu downstairs.",
        "Anyone else think Mondays are too long?",
    ],
)
def test_incidental_uses_raise_no_signal(text: str) -> None:
    found = signals(text)
    assert "congratulate" not in found and "offer_help" not in found


def test_wine_is_not_win_and_idioms_are_not_pets() -> None:
    assert "food" not in topics("Chiefs win again.")
    assert "pets" not in topics("这周加班累成狗。")


def test_quoted_graduation_euphemism_is_a_layoff() -> None:
    """“毕业” in quotes, with the team and the poster in it, is a layoff: check in, never congratulate."""
    tags = tag_post("", "我们组今天也“毕业”了三个人，包括我…")
    assert "check_in" in tags.signals and "congratulate" not in tags.signals
    assert "congratulate" in signals("今天毕业了！")


def test_kept_sentence_readings_give_the_tags_of_a_fresh_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    # Sentences come back across posts; a reading kept from another post (then recalled) must give
    # exactly the tags, evidence and scorer input (labels blocked by context) of a fresh reading.
    taxonomy = load_taxonomy()
    compiled = taxonomy._compiled
    assert compiled.scorer is not None
    seen: list[tuple] = []
    scorer = compiled.scorer

    class Watched:
        def decide(self, norm: str, fired: set[int], blocked: set[int]) -> tuple:
            seen.append((set(fired), set(blocked)))
            return scorer.decide(norm, fired, blocked)

    monkeypatch.setattr(compiled, "scorer", Watched())
    posts = [(p["title"], p["text"]) for p in POSTS + POSTS_2 + POSTS_H + POSTS_B]
    posts += [(t, f"{x}\n{y}") for (t, x), (_, y) in zip(posts, posts[7:])]  # each sentence twice
    fresh = []
    for title, text in posts:
        compiled.zh_sentences.clear()
        fresh.append(tag_post(title, text, taxonomy=taxonomy))
    fresh_seen, seen[:] = seen[:], []
    assert [tag_post(title, text, taxonomy=taxonomy) for title, text in posts] == fresh
    assert seen == fresh_seen
    assert compiled.zh_sentences


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
@settings(max_examples=300, deadline=None)
def test_ascii_posts_normalise_as_any_post(text: str) -> None:
    # Plain ASCII skips the whole-text passes: it must come out as the full normalisation makes it.
    from transforms import tagging

    assert tagging._normalise_post(text) == tagging._normalise(text)
    assert tag_post("", text).lang == detect_lang(text)


def test_long_clause_read_around_its_matches_like_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # A long clause of a sentence whose reading is not kept is read only around its matches still
    # to be read and its loud ones (_Window): the tags and evidence are those of reading its units
    # all (units, or the whole clause's cut).
    def every_hit(patch, tagging, compiled) -> None:
        patch.setattr(compiled, "sparse", lambda clause: None)

    clauses = _stitched_clauses(7, 2400)
    # One sentence each, over _SENTENCE_CACHE_CHARS, with few clause breaks: long clauses.
    texts = ["".join(clause.replace("!", "").replace("?", "").replace("。", "") for clause in clauses[i : i + 24]) for i in range(0, len(clauses), 24)]
    texts += ["如果升职就好了大家一起吃饭看电影喝茶然后升职" * 12, "西湖人很多数据库课程音乐会小猫不推荐求助" * 15]
    assert _tags_both_ways(texts, monkeypatch, every_hit) > 150
