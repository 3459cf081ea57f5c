"""A conversation read as one request (movierec.conversation): verdicts on named and suggested movies,
constraints that accumulate and that a later turn replaces, the turn each came from. The bundled sample
catalogue; the phrasings were written for these tests."""

from __future__ import annotations

import pytest

from movierec.conversation import DISLIKED, LIKED, SEEN, SUGGESTED, read_conversation, reply_verdict
from movierec.domain import RECOMMENDER, SEEKER, Movie, Turn
from movierec.understanding import Understander


def _row(movies: list[Movie], title: str) -> int:
    return next(i for i, m in enumerate(movies) if m.title == title)


def _readings(movies: list[Movie], turns: list[Turn], understander: Understander) -> dict[str, tuple[str, int]]:
    u = read_conversation(understander.understand, turns)
    return {movies[row].title: (reading, turn) for row, reading, turn in u.named}


def test_liked_disliked_and_seen_in_one_conversation(movies: list[Movie], understander: Understander) -> None:
    turns = [
        Turn(SEEKER, "we want a thriller tonight"),
        Turn(SEEKER, "I loved Gone Girl, but please not Se7en"),
        Turn(RECOMMENDER, "Have you seen Zodiac?"),
        Turn(SEEKER, "seen it already"),
        Turn(RECOMMENDER, "Then maybe Prisoners (2013)?"),
        Turn(SEEKER, "oh that sounds great"),
    ]
    u = read_conversation(understander.understand, turns)
    readings = {movies[row].title: (reading, turn) for row, reading, turn in u.named}
    assert readings == {"Gone Girl": (LIKED, 1), "Se7en": (DISLIKED, 1), "Zodiac": (SEEN, 3), "Prisoners": (LIKED, 5)}
    assert set(u.examples) == {_row(movies, "Gone Girl"), _row(movies, "Prisoners")}
    assert u.disliked == (_row(movies, "Se7en"),) and u.excluded_movies == u.disliked
    assert "Thriller" in u.genres and ("Thriller", 0) in u.from_turns


def test_a_suggestion_nobody_answered_is_only_suggested(movies: list[Movie], understander: Understander) -> None:
    readings = _readings(
        movies,
        [
            Turn(SEEKER, "a funny movie"),
            Turn(RECOMMENDER, "How about Groundhog Day?"),
            Turn(SEEKER, "what else is there with Bill Murray"),
        ],
        understander,
    )
    assert readings == {"Groundhog Day": (SUGGESTED, 1)}


def test_a_reply_about_a_movie_of_its_own_leaves_the_suggestion_alone(
    movies: list[Movie], understander: Understander
) -> None:
    readings = _readings(
        movies, [Turn(RECOMMENDER, "Maybe Notting Hill?"), Turn(SEEKER, "I really liked Clueless")], understander
    )
    assert readings["Notting Hill"] == (SUGGESTED, 0) and readings["Clueless"] == (LIKED, 1)


def test_a_recommender_turn_states_no_constraint(understander: Understander) -> None:
    u = read_conversation(
        understander.understand,
        [Turn(SEEKER, "something for tonight"), Turn(RECOMMENDER, "Do you like horror from the 80s?")],
    )
    assert not u.genres and u.year_min is None and u.year_max is None


def test_a_later_turn_replaces_the_same_aspect_and_exclusions_accumulate(understander: Understander) -> None:
    u = read_conversation(
        understander.understand,
        [
            Turn(SEEKER, "a comedy from the 90s, no horror"),
            Turn(SEEKER, "nothing with romance either"),
            Turn(SEEKER, "actually make it something from the 70s"),
        ],
    )
    assert (u.year_min, u.year_max) == (1970, 1979)
    assert {"Horror", "Romance"} <= set(u.excluded_genres)
    turns = dict(u.from_turns)
    assert turns["1970-1979"] == 2 and turns["not Horror"] == 0 and turns["not Romance"] == 1


def test_a_later_wish_lifts_an_earlier_exclusion(understander: Understander) -> None:
    u = read_conversation(
        understander.understand, [Turn(SEEKER, "no horror please"), Turn(SEEKER, "ok fine, horror it is")]
    )
    assert "Horror" in u.genres and "Horror" not in u.excluded_genres


@pytest.mark.parametrize(
    "turns",
    [
        [Turn(RECOMMENDER, "Have you seen Psycho (1960)?"), Turn(SEEKER, "oh yes, that's a classic!")],
        [Turn(SEEKER, "I just saw the new Star Wars and loved it")],
        [Turn(SEEKER, "Jurassic Park is an old favourite of mine")],
        [Turn(SEEKER, "did you see the new Qwerty Zorb (2018)? it's not in your list I bet")],
        [Turn(SEEKER, "I watched Blorp Returns (2017) recently, it was great")],
    ],
)
def test_era_words_about_a_named_movie_describe_it(turns: list[Turn], understander: Understander) -> None:
    u = read_conversation(understander.understand, turns)
    assert u.year_min is None and u.year_max is None, u


def test_an_era_asked_for_binds(understander: Understander) -> None:
    u = read_conversation(
        understander.understand,
        [Turn(RECOMMENDER, "Have you seen Alien (1979)?"), Turn(SEEKER, "no. something recent please")],
    )
    assert u.year_min is not None


def test_a_wish_keeps_its_words_and_a_reply_loses_its_verdict(movies: list[Movie], understander: Understander) -> None:
    assert "fun" in read_conversation(understander.understand, [Turn(SEEKER, "a fun movie")]).mood.split()
    u = read_conversation(
        understander.understand, [Turn(RECOMMENDER, "Up (2009)?"), Turn(SEEKER, "loved it! now a fun heist")]
    )
    assert "loved" not in u.mood.split() and {"fun", "heist"} <= set(u.mood.split())


def test_seen_covers_only_its_own_clause(movies: list[Movie], understander: Understander) -> None:
    readings = _readings(movies, [Turn(SEEKER, "Already seen Titanic. I want something like Alien")], understander)
    assert readings == {"Titanic": (SEEN, 0), "Alien": (LIKED, 0)}


def test_children_once_named_stay_the_audience(understander: Understander) -> None:
    u = read_conversation(
        understander.understand, [Turn(SEEKER, "something for my 6 year old"), Turn(SEEKER, "maybe a horror movie?")]
    )
    assert u.for_kids


@pytest.mark.parametrize(
    "reply, verdict",
    [
        ("seen it", SEEN),
        ("we've already watched that one", SEEN),
        ("saw it last year, loved it", LIKED),
        ("not my thing", DISLIKED),
        ("too dark for us", DISLIKED),
        ("I didn't like it much", DISLIKED),
        ("ooh that sounds good", LIKED),
        ("yes! I'll check it out", LIKED),
        ("what year is it from", None),
        ("I haven't seen it", None),
        ("never seen that one, is it good?", None),
        ("have not seen it yet", None),
        ("I haven't seen that one but it sounds great", LIKED),
        ("Thanks! Anything funnier?", None),
        ("not sure", None),
        ("thanks but no", DISLIKED),
        ("doesn't sound fun", DISLIKED),
        ("not cool", DISLIKED),
        ("sure, but not that one", DISLIKED),
        ("Interesting, but not my style", DISLIKED),
        ("I'll watch it", LIKED),
        ("I'll check it out", LIKED),
        ("we'll watch that", LIKED),
        ("I've seen it", SEEN),
        ("ok!", LIKED),
        ("thank you!", LIKED),
    ],
)
def test_reply_verdicts(reply: str, verdict: str | None) -> None:
    assert reply_verdict(reply) == verdict


@pytest.mark.parametrize("text", ["had a long day", "I saw it a long time ago", "it's been a long week"])
def test_long_of_something_else_is_no_runtime(understander: Understander, text: str) -> None:
    u = understander.understand(text)
    assert u.runtime_min is None and u.runtime_max is None, u


def test_a_long_film_is_still_a_runtime(understander: Understander) -> None:
    assert understander.understand("nothing too long, a comedy").runtime_max is not None
