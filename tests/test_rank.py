"""Ranking with a fixed clock: order and reasons, cadence, the favour ledger, diversity, wording."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from connectors.calendar import Meeting
from reports import rank
from reports.digest import Starter, to_starter
from reports.rank import Candidate, Favour, PersonState, Post
from reports.wording import clean_excerpt, load_templates, named_things

NOW = datetime(2026, 11, 23, 0, 30, tzinfo=timezone.utc)
TEN = datetime(2026, 11, 23, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def post(pid, person, *, hours=24, signals=(), topics=(), title="", text="hello", lang="en"):
    return Post(post_id=pid, person_id=person, url=f"https://x.example/{pid}", title=title, text=text,
                published_at=NOW - timedelta(hours=hours), lang=lang, signals=tuple(signals),
                topics=tuple(topics))


def person(pid, name, **kw):
    return PersonState(person_id=pid, name=name, **kw)


def ranked(posts, people):
    cands = rank.post_candidates(posts) + rank.person_candidates(people, NOW, posts) + rank.introduce_candidates(posts)
    return rank.rank(cands, people, NOW)


def test_meeting_today_outranks_a_fresher_signal_and_says_why():
    people = [person(1, "Ann", meetings=(Meeting(1, "Design review", TEN, False),)), person(2, "Bo")]
    posts = [post("a", 1, hours=70, topics=("food",)), post("b", 2, hours=1, signals=("congratulate",))]
    out = ranked(posts, people)
    assert [r.candidate.person_id for r in out] == [1, 2]
    assert out[0].reasons[0] == "meeting today at 10:00 (Design review)"
    assert out[0].section == "meeting_today" and out[1].section == "congratulate"
    assert out[1].reasons == ("signal: congratulate", "posted 1 hour ago")


def test_whom_you_meet_today_gets_their_best_starter_there_but_check_in_stays_private():
    meeting = (Meeting(1, "Review", TEN, False),)
    people = [person(1, "Li", meetings=meeting, cadence_days=14), person(2, "Wang", meetings=meeting)]
    posts = [post("promo", 1, hours=20, signals=("congratulate",)), post("lunch", 1, hours=2, topics=("food",)),
             post("loss", 2, hours=20, signals=("check_in",))]
    out = {r.candidate.subject: r for r in ranked(posts, people)}
    assert out["post:promo"].section == out["post:lunch"].section == "meeting_today"
    assert out["post:promo"].score > out["post:lunch"].score  # the promotion is what to say today
    assert out["post:loss"].section == "check_in"
    assert out["post:loss"].reasons[0] == "meeting today at 10:00 (Review)"


def test_signal_beats_topic_and_recency_breaks_ties():
    people = [person(1, "Ann"), person(2, "Bo"), person(3, "Cy")]
    posts = [post("a", 1, hours=2, topics=("food",)), post("b", 2, hours=100, signals=("offer_help",)),
             post("c", 3, hours=5, signals=("offer_help",))]
    assert [r.candidate.subject for r in ranked(posts, people)] == ["post:c", "post:b", "post:a"]


def test_overdue_people_rise_with_days_past_cadence():
    people = [person(1, "Ann", cadence_days=14, last_contact=NOW - timedelta(days=20)),
              person(2, "Bo", cadence_days=14, last_contact=NOW - timedelta(days=3))]
    posts = [post("a", 1, topics=("food",)), post("b", 2, hours=1, topics=("food",))]
    out = [r for r in ranked(posts, people) if r.candidate.kind == "post"]
    assert out[0].candidate.person_id == 1
    assert "overdue: last contact 20 days ago (cadence 14)" in out[0].reasons
    assert not any("overdue" in r for r in out[1].reasons)
    boost_20, _ = rank.overdue(people[0], NOW, rank.Weights())
    boost_40, _ = rank.overdue(person(1, "Ann", cadence_days=14, last_contact=NOW - timedelta(days=40)),
                               NOW, rank.Weights())
    assert 0 < boost_20 < boost_40 <= rank.Weights().overdue_max


def test_ledger_owed_favour_raises_a_person_and_a_returned_one_does_not():
    owed = (Favour(NOW - timedelta(days=10), "received", "Reviewed your slides"),)
    returned = (Favour(NOW - timedelta(days=40), "received", "Covered on-call"),
                Favour(NOW - timedelta(days=12), "gave", "An introduction"))
    people = [person(1, "Ann", favours=returned), person(2, "Bo", favours=owed)]
    posts = [post("a", 1, hours=1, topics=("food",)), post("b", 2, hours=30, topics=("food",))]
    out = ranked(posts, people)
    assert out[0].candidate.person_id == 2 and out[0].candidate.kind in ("favour", "post")
    assert "you owe a favour: reviewed your slides" in out[0].reasons
    favours = [r for r in out if r.section == "favours"]
    assert [r.candidate.person_id for r in favours] == [2]
    assert rank.owed_favours(returned) == ()


def test_gone_quiet_needs_neither_posts_nor_contact_within_cadence():
    old = post("old", 1, hours=24 * 40)
    quiet = person(1, "Ann", cadence_days=30, last_contact=NOW - timedelta(days=70), last_post=old)
    talked = person(2, "Bo", cadence_days=30, last_contact=NOW - timedelta(days=5), last_post=old)
    assert rank.is_quiet(quiet, NOW) and not rank.is_quiet(talked, NOW)
    assert [c.person_id for c in rank.person_candidates([quiet, talked], NOW) if c.kind == "quiet"] == [1]


def test_several_posts_on_one_theme_become_one_starter():
    posts = [post("a", 1, hours=5, signals=("offer_help",)), post("b", 1, hours=30, signals=("offer_help",)),
             post("c", 1, hours=2, topics=("food",)), post("d", 2, hours=2, topics=("food",))]
    cands = rank.post_candidates(posts)
    grouped = [c for c in cands if c.signal == "offer_help"]
    assert len(cands) == 3 and [p.post_id for p in grouped[0].posts] == ["a", "b"]


def test_introduce_pairs_an_asker_with_someone_on_the_topic_but_not_a_sensitive_poster():
    posts = [post("a", 1, signals=("offer_help",), topics=("tech",)), post("b", 2, topics=("tech",)),
             post("c", 3, topics=("tech",)), post("d", 3, signals=("check_in",))]
    intro = rank.introduce_candidates(posts)
    assert [(c.person_id, c.other_person_id, c.topic) for c in intro] == [(1, 2, "tech")]


def test_introductions_only_on_what_posts_are_mainly_about_and_never_on_work():
    def about(pid, person, main, *others):
        evidence = {main: ("a", "b")} | {t: ("c",) for t in others}
        return Post(post_id=pid, person_id=person, url=f"https://x.example/{pid}", title="", text="hello",
                    published_at=NOW - timedelta(hours=2), topics=(main, *others), evidence=evidence)

    # Both mention pets in passing (a move, a wedding); only the two travel posts make a pair.
    posts = [about("a", 1, "travel", "pets"), about("b", 2, "family", "pets"), about("c", 3, "travel"),
             about("d", 4, "work"), about("e", 5, "work", "tech")]
    intro = rank.introduce_candidates(posts)
    assert [(c.person_id, c.other_person_id, c.topic) for c in intro] == [(1, 3, "travel")]


def test_diversity_caps_per_person_and_overall_and_keeps_scarce_sections():
    people = [person(1, "Ann", favours=(Favour(NOW - timedelta(days=3), "received", "Lent a bike"),)),
              person(2, "Bo")]
    posts = [post(f"a{i}", 1, hours=i + 1, topics=(t,)) for i, t in enumerate(("food", "tech", "pets", "work"))]
    posts.append(post("b", 2, hours=50, topics=("food",)))
    out = rank.select(ranked(posts, people), max_items=3, max_per_person=2)
    assert len(out) == 3
    assert sum(r.candidate.person_id == 1 for r in out) == 2
    assert "favours" in {r.section for r in out}


def _words(r, people, language=None):
    return to_starter(r, {p.person_id: p for p in people}, day=NOW.date(), now=NOW,
                      language=language, templates=load_templates())


def test_starters_in_both_languages_use_the_post_detail_link_and_age():
    people = [person(1, "李伟", language="zh"), person(2, "Tom Becker", language="en")]
    posts = [post("z", 1, hours=30, topics=("travel",), title="周末和老婆去莫干山走了剑池到芦花荡那条线...",
                  text="周末和老婆去莫干山走了剑池到芦花荡那条线，全程 14 公里。[图片]", lang="zh"),
             post("e", 2, hours=50, topics=("sports",),
                  text="Union 2–1 at the Alte Försterei. When the late winner went in, I lost my voice.")]
    by = {r.candidate.person_id: r for r in ranked(posts, people)}
    zh, en = _words(by[1], people), _words(by[2], people)
    assert isinstance(zh, Starter) and zh.lang == "zh" and "李伟" in zh.text
    assert "“周末和老婆去莫干山走了剑池到芦花荡那条线，全程 14 公里”（昨天）" in zh.text and "[图片]" not in zh.text
    assert en.lang == "en" and "Alte Försterei" in en.text and "(2 days ago)" in en.text
    assert en.post_url == "https://x.example/e"
    assert _words(by[1], people, language="en").text.startswith("Ask 李伟")


def test_check_in_is_private_and_never_a_congratulation():
    people = [person(1, "王芳", language="zh"), person(2, "Liu", language="en")]
    posts = [post("zh", 1, signals=("check_in",), text="爸爸前天夜里走了。", lang="zh"),
             post("en", 2, signals=("check_in", "congratulate"), text="Out of hospital after surgery.")]
    for r in ranked(posts, people):
        for lang in ("en", "zh"):
            s = _words(r, people, language=lang)
            assert r.section == "check_in"
            assert not any(w in s.text.lower() for w in ("congratulat", "恭喜", "祝贺"))
            assert ("private" in s.text) if lang == "en" else ("私下" in s.text)


def test_excerpt_and_named_things():
    assert clean_excerpt("", "Dawn surf at Manly. Waist-high, glassy.", "en") == "Dawn surf at Manly"
    assert named_things("", "Dawn surf at Manly with the Union Berlin crowd.") == ["Manly", "Union Berlin"]
    assert named_things("", "终于看到了北京人艺的《窝头会馆》", "zh") == ["《窝头会馆》"]


def test_excerpt_drops_every_kind_of_noise():
    assert clean_excerpt("", "\ufeffSee https://x.example/a\u200b the slides. More", "en") == "See the slides"
    assert clean_excerpt("", "今天上线了 - 转发 @某人: 原文。", "zh") == "今天上线了"
    assert clean_excerpt("", "[图片]今天上线了。", "zh") == "今天上线了"
    assert clean_excerpt("", "Plain words, nothing to drop. Next", "en") == "Plain words, nothing to drop"


def test_introductions_stay_few_however_large_the_roster():
    posts = [post(f"p{i}", i, hours=i, topics=("tech",), signals=("offer_help",) if i < 8 else ())
             for i in range(1, 301)]
    cands = rank.introduce_candidates(posts)
    assert 0 < len(cands) <= rank.INTRO_LEADS * (rank.INTRO_PARTNERS + 1)
    assert {c.person_id for c in cands} <= set(range(1, 8))  # askers lead, most recent first
