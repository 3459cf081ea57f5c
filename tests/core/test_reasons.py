"""Reasons in words: each kind names what the request and the movie share, and never what the movie lacks."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.domain import Movie
from movierec.reasons import (
    FALLBACK,
    FAVOURITE_RATING,
    GROUP_HIGH_FIT,
    HIGHLY_RATED,
    MAX_NAMED,
    MIN_FAVOURITE_SIMILARITY,
    MIN_PART,
    MIN_VOTES_FOR_RATING,
    POPULAR_VOTES,
    Reasoner,
    nearest_favourites,
    reason,
)
from movierec.understanding import Understander, Understood

HEAT = Movie(1, "Heat", 1995, ("Action", "Crime", "Thriller"), keywords=("heist", "robbery"))
RONIN = Movie(2, "Ronin", 1998, ("Action", "Crime", "Thriller"), keywords=("ex kgb",))
SE7EN = Movie(3, "Se7en", 1995, ("Crime", "Mystery", "Thriller"), keywords=("serial killer",))
THE_HEIST = Movie(
    10,
    "The Big Job",
    1994,
    ("Crime", "Thriller"),
    vote_average=6.1,
    vote_count=800,
    keywords=("heist", "bank"),
    runtime=104,
    language="en",
    directors=("Ann Director",),
    cast=("Tom Hanks", "Meg Ryan"),
)
NO_HEIST = Movie(
    11,
    "Quiet Streets",
    1996,
    ("Crime", "Drama"),
    vote_average=6.4,
    vote_count=900,
    keywords=("police",),
    runtime=131,
    language="fr",
    cast=("Meg Ryan",),
)
CARTOON = Movie(
    12,
    "Little Bear",
    2011,
    ("Animation", "Family", "Comedy"),
    runtime=78,
    language="fr",
    vote_average=HIGHLY_RATED + 0.4,
    vote_count=MIN_VOTES_FOR_RATING * 3,
)

BIG = 3 * MIN_PART  # a part that is a reason
SMALL = MIN_PART / 2  # a part that is not


def clauses(sentence: str) -> list[str]:
    return sentence.split("; ")


def test_every_reason_is_one_or_two_clauses_capitalised_without_a_full_stop() -> None:
    u = Understood(mood="a tense heist", genres=("Crime",), year_min=1990, year_max=1999, people=("Tom Hanks",))
    for movie, signals in (
        (THE_HEIST, {"prompt": BIG, "popularity": BIG / 2, "quality": BIG / 3}),
        (NO_HEIST, {}),
        (CARTOON, {"quality": BIG}),
    ):
        sentence = reason(movie, signals, u)
        assert sentence and sentence[0].isupper() and not sentence.endswith(".")
        assert 1 <= len(clauses(sentence)) <= 2


def test_collaborative_with_examples_names_at_most_two_of_them() -> None:
    u = Understood(examples=(0, 1, 2))
    said = reason(THE_HEIST, {"collaborative": BIG}, u, examples=[HEAT, RONIN, SE7EN])
    assert "Heat" in said and "Ronin" in said and "Se7en" not in said and "asked for something like" in said
    # Liked in a conversation: said as liked.
    liked = Understood(examples=(0,), named=((0, "liked", 1),))
    assert reason(THE_HEIST, {"collaborative": BIG}, liked, examples=[HEAT]).startswith("Because you liked Heat")


def test_no_example_is_named_without_examples() -> None:
    for signals in ({"collaborative": BIG}, {"prompt": BIG}, {"collaborative": BIG, "prompt": BIG}):
        for titles in (
            reason(THE_HEIST, signals, Understood(mood="tense")),
            reason(THE_HEIST, signals, Understood(), for_user=True),
        ):
            assert "like Heat" not in titles and "liked" not in titles


def test_a_known_user_hears_of_their_own_favourites_or_ratings() -> None:
    said = reason(THE_HEIST, {"collaborative": BIG}, Understood(), favourites=[HEAT, RONIN, SE7EN], for_user=True)
    assert said == "Because you rated Heat and Ronin highly"
    assert (
        reason(THE_HEIST, {"taste": BIG}, Understood(), favourites=[SE7EN], for_user=True)
        == "Because you rated Se7en highly"
    )
    assert reason(THE_HEIST, {"collaborative": BIG}, Understood(), for_user=True) == "Because of what you have rated"
    assert reason(THE_HEIST, {"taste": BIG}, Understood(), for_user=True) == "Close to your taste"
    # An anonymous request has no ratings to speak of.
    assert "rated" not in reason(THE_HEIST, {"collaborative": BIG}, Understood())


def test_the_asked_clause_names_a_keyword_only_when_the_movie_has_it(understander: Understander) -> None:
    u = understander.understand("a 1990s heist film")
    assert u.year_min == 1990 and u.year_max == 1999 and "Crime" in u.genres
    assert reason(THE_HEIST, {}, u) == "A 1990s heist film, as asked"
    without = reason(NO_HEIST, {"prompt": BIG, "match": BIG}, u)
    assert "heist" not in without and "A 1990s crime film, as asked" in without
    # A movie outside the decade is never called a 1990s film.
    assert "1990s" not in reason(CARTOON, {"prompt": BIG}, u)


def test_keywords_asked_are_named_only_from_the_movies_own() -> None:
    u = Understood(mood="a bank job", keywords=("bank", "time travel"))
    said = reason(THE_HEIST, {}, u)
    assert "bank" in said and "time travel" not in said
    assert "bank" not in reason(NO_HEIST, {"match": BIG}, u)


def test_people_language_runtime_and_children_are_claimed_only_when_true() -> None:
    u = Understood(people=("Tom Hanks", "Ann Director"))
    with_them = reason(THE_HEIST, {}, u)
    assert "with Tom Hanks" in with_them and "by Ann Director" in with_them
    assert "Tom Hanks" not in reason(NO_HEIST, {}, u) and "Ann Director" not in reason(NO_HEIST, {}, u)
    french = Understood(languages=("fr",), for_kids=True, runtime_max=95)
    said = reason(CARTOON, {}, french)
    assert "in French" in said and "for kids" in said
    assert "French" not in reason(THE_HEIST, {}, french) and "kids" not in reason(THE_HEIST, {}, french)
    assert str(THE_HEIST.runtime) not in reason(THE_HEIST, {}, Understood(runtime_max=95))
    assert f"of {NO_HEIST.runtime} minutes" in reason(NO_HEIST, {}, Understood(runtime_min=120))


def test_genres_that_only_follow_from_the_examples_are_not_said_to_be_asked() -> None:
    u = Understood(genres=HEAT.genres, examples=(0,))
    said = reason(RONIN, {"collaborative": BIG}, u, examples=[HEAT])
    assert "as asked" not in said and "Heat" in said
    # Named in words, they are.
    asked = Understood(genres=("Crime",), examples=(0,))
    assert "A crime film, as asked" in reason(RONIN, {"collaborative": BIG}, asked, examples=[HEAT])


def test_quality_and_popularity_hold_to_their_thresholds() -> None:
    modest = Movie(20, "Fine", 2000, ("Drama",), vote_average=HIGHLY_RATED - 1, vote_count=POPULAR_VOTES - 1)
    assert reason(modest, {"quality": BIG, "popularity": BIG}, Understood(mood="x")) == FALLBACK
    few_votes = Movie(21, "Cult", 2000, ("Drama",), vote_average=9.5, vote_count=MIN_VOTES_FOR_RATING - 1)
    assert "Highly rated" not in reason(few_votes, {"quality": BIG}, Understood(mood="x"))
    loved = Movie(22, "Classic", 2000, ("Drama",), vote_average=HIGHLY_RATED + 0.4, vote_count=POPULAR_VOTES * 3)
    said = reason(loved, {"quality": BIG, "popularity": BIG / 2}, Understood(mood="x"))
    assert clauses(said)[0] == f"Highly rated ({loved.vote_average:.1f}/10 on TMDB)"
    assert clauses(said)[1].startswith("a popular pick") and f"{loved.vote_count:,}" in said


def test_the_largest_positive_parts_lead_and_small_or_negative_ones_are_no_reason() -> None:
    u = Understood(mood="something warm")
    assert reason(CARTOON, {"prompt": BIG, "community": BIG * 2}, u).startswith("Well liked by people")
    assert reason(CARTOON, {"prompt": BIG * 2, "community": BIG}, u).startswith("Close to what you described")
    assert reason(CARTOON, {"prompt": SMALL, "community": -BIG, "baseline": BIG}, u) == FALLBACK
    assert "your taste" in reason(CARTOON, {"community": BIG}, u, for_user=True)
    assert "your taste" not in reason(CARTOON, {"community": BIG}, u)


@pytest.mark.parametrize(
    ("fit", "expected"),
    [
        ({12: 0.95, 48: 0.9, 301: GROUP_HIGH_FIT}, "A strong match for everyone in the group"),
        ({12: 0.97, 48: 0.3, 301: 0.2}, "Among the best matches of user 12"),
        ({12: 0.3, 48: 0.97, 301: 0.9}, "Among the best matches of users 48 and 301"),
        ({12: 0.6, 48: 0.55}, "In the top half for everyone in the group"),
        ({12: 0.6, 48: 0.1}, "Picked for the group as a whole"),
    ],
)
def test_a_group_reason_leads_a_groups_result(fit: dict[int, float], expected: str) -> None:
    said = reason(THE_HEIST, {"collaborative": BIG}, Understood(mood="fun"), member_fit=fit, for_user=True)
    assert clauses(said)[0] == expected


def test_a_group_reason_only_for_a_group() -> None:
    for signals in ({}, {"collaborative": BIG}, {"community": BIG, "taste": BIG}):
        said = reason(THE_HEIST, signals, Understood(mood="fun"), for_user=True)
        assert "group" not in said and "best matches of" not in said


def test_a_short_lists_tail_says_what_it_misses_and_only_that() -> None:
    u = Understood(genres=("War",), people=("Tom Hanks",))
    said = reason(THE_HEIST, {"community": BIG}, u, unmet=("genre",))
    assert said == "Not a war film, but close to the rest of what you asked"
    decade = Understood(year_min=1990, year_max=1999)
    assert reason(CARTOON, {}, decade, unmet=("years",)).startswith("Not from the 1990s")
    assert reason(NO_HEIST, {}, u, unmet=("people",)).startswith("Without Tom Hanks")
    assert reason(NO_HEIST, {}, Understood(runtime_max=95), unmet=("runtime",)).startswith("Longer than asked")
    # Unmet as read, but true of this movie after all: nothing false is said.
    has_it = reason(THE_HEIST, {}, u, unmet=("people",))
    assert "Without" not in has_it and "with Tom Hanks" in has_it
    assert "Not a" not in reason(HEAT, {}, Understood(genres=("Crime",)), unmet=("genre",))


def test_the_same_input_gives_the_same_sentence() -> None:
    u = Understood(mood="tense", genres=("Crime",), examples=(0, 1))
    signals = {"collaborative": BIG, "community": BIG, "popularity": BIG}  # tied parts: a fixed order
    first = reason(THE_HEIST, signals, u, examples=[HEAT, RONIN])
    assert first == reason(THE_HEIST, dict(reversed(list(signals.items()))), u, examples=[HEAT, RONIN])
    reasoner = Reasoner(u, [HEAT, RONIN])
    assert {reasoner(THE_HEIST, signals) for _ in range(3)} == {first}


def test_nearest_favourites_are_close_highly_rated_and_never_the_movie_itself() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(6, 16)).astype(np.float32)
    vectors[1] = vectors[0] + 0.05 * vectors[1]  # 1 is near 0
    vectors[2] = vectors[0] + 0.2 * vectors[2]  # 2 is near 0, less so
    vectors[3] = vectors[0]  # as near as can be, but rated low
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rated = np.array([0, 1, 2, 3, 5])
    values = np.array([5.0, FAVOURITE_RATING, 4.5, FAVOURITE_RATING - 1, 5.0], np.float32)
    near = nearest_favourites(vectors, [0, 4], rated, values)
    assert near[0] == (1, 2)[:MAX_NAMED]  # 0 itself is rated but never its own reason; 3 is no favourite
    similarity = vectors[4] @ vectors[[0, 1, 2, 5]].T
    assert all(vectors[4] @ vectors[r] >= MIN_FAVOURITE_SIMILARITY for r in near[1])
    assert len(near[1]) == int((similarity >= MIN_FAVOURITE_SIMILARITY).sum().clip(max=MAX_NAMED))
    assert nearest_favourites(vectors, [0], rated, np.full(5, FAVOURITE_RATING - 0.5, np.float32)) == [()]
