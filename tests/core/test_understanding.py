"""The understanding stage on the bundled sample catalogue: what a prompt is read to ask for."""

from __future__ import annotations

import time

import pytest

from movierec.domain import Movie
from movierec.understanding import Understander, Understood, normalise, prompt_words


def titles(movies: list[Movie], rows: tuple[int, ...]) -> list[str]:
    return [movies[r].title for r in rows]


def test_negation_is_an_exclusion_not_a_wish(understander: Understander) -> None:
    u = understander.understand("romance tonight please, nothing scary")
    assert u.genres == ("Romance",) and u.excluded_genres == ("Horror",)
    assert "scary" not in u.mood and "romance" in u.mood
    for prompt in (
        "anything but horror",
        "a comedy without any horror",
        "no horror or gore please",
        "I don't want horror",
        "not a fan of horror, something fun",
    ):
        assert "Horror" in understander.understand(prompt).excluded_genres, prompt
        assert "Horror" not in understander.understand(prompt).genres, prompt


def test_negation_scope_ends_at_the_clause(understander: Understander) -> None:
    u = understander.understand("no horror, but a comedy would be great")
    assert u.excluded_genres == ("Horror",) and u.genres == ("Comedy",)
    u = understander.understand("not too scary but funny")
    assert u.excluded_genres == ("Horror",) and u.genres == ("Comedy",)


def test_several_facets_at_once(understander: Understander) -> None:
    u = understander.understand("a comedy, nothing romantic, from the 90s")
    assert u.genres == ("Comedy",) and u.excluded_genres == ("Romance",)
    assert (u.year_min, u.year_max) == (1990, 1999)


@pytest.mark.parametrize(
    "prompt, low, high",
    [
        ("an action flick from the nineties", 1990, 1999),
        ("something from the 80s", 1980, 1989),
        ("a 2000s comedy", 2000, 2009),
        ("made before 2000", None, 1999),
        ("anything after 2010", 2011, None),
        ("movies between 1980 and 1990", 1980, 1990),
        ("a movie from 1985", 1985, 1985),
        ("a classic western", None, 1979),
        ("the early 90s", 1990, 1994),
        ("nothing before 1990", 1990, None),
    ],
)
def test_eras(understander: Understander, prompt: str, low: int | None, high: int | None) -> None:
    u = understander.understand(prompt)
    assert (u.year_min, u.year_max) == (low, high)


def test_recent_is_relative_to_the_catalogue(understander: Understander, movies: list[Movie]) -> None:
    newest = max(m.year for m in movies)
    assert understander.understand("something recent").year_min == newest - 5


@pytest.mark.parametrize(
    "prompt, low, high",
    [
        ("under 90 minutes", None, 90),
        ("less than 2 hours please", None, 120),
        ("a short comedy", None, 95),
        ("not too long", None, 120),
        ("at most 100 min", None, 100),
        ("over 3 hours", 180, None),
    ],
)
def test_runtimes(understander: Understander, prompt: str, low: int | None, high: int | None) -> None:
    u = understander.understand(prompt)
    assert (u.runtime_min, u.runtime_max) == (low, high)


def test_people_full_names_and_director_surnames(understander: Understander) -> None:
    assert understander.understand("Tom Hanks movies").people == ("Tom Hanks",)
    assert understander.understand("movies directed by christopher nolan").people == ("Christopher Nolan",)
    assert understander.understand("a Tarantino movie").people == ("Quentin Tarantino",)
    assert understander.understand("no Tom Hanks please, a drama").excluded_people == ("Tom Hanks",)
    assert understander.understand("Tom Hanks movies").mood == ""  # nothing left to embed


def test_named_movies_become_examples(understander: Understander, movies: list[Movie]) -> None:
    cases = {
        "a movie like The Matrix": ["The Matrix"],
        "something like superbad?": ["Superbad"],
        "I loved Inception (2010) and Interstellar": ["Inception", "Interstellar"],
        "like inceptoin": ["Inception"],
        "similar to the dark knight": ["The Dark Knight"],
        "I liked Die Hard (1988)": ["Die Hard"],
    }
    for prompt, expected in cases.items():
        assert titles(movies, understander.understand(prompt).examples) == expected, prompt
    u = understander.understand("anything but Titanic")
    assert titles(movies, u.excluded_movies) == ["Titanic"] and not u.examples


def test_a_title_with_a_year_picks_that_release(movies: list[Movie]) -> None:
    remake = Movie(movie_id=1, title="Heat", year=2013, genres=("Comedy",))
    original = next(m for m in movies if m.title == "Heat")
    u = Understander([remake, original]).understand("I enjoyed Heat (1995)")
    assert u.examples == (1,)


def test_common_words_are_not_titles(understander: Understander) -> None:
    for prompt in ("I would like something up beat", "a heist gone wrong", "a movie to watch with my kids"):
        assert understander.understand(prompt).examples == (), prompt


def test_languages_and_foreign(understander: Understander) -> None:
    assert understander.understand("a korean thriller").languages == ("ko",)
    assert understander.understand("a movie in Japanese").languages == ("ja",)
    assert understander.understand("foreign films with subtitles").excluded_languages == ("en",)


def test_kids(understander: Understander) -> None:
    u = understander.understand("a comedy for the kids")
    assert u.for_kids and "Horror" in u.excluded_genres and u.genres == ("Comedy",)


def test_plain_moods_pass_through(understander: Understander) -> None:
    u = understander.understand("a sad movie that will make me cry")
    assert u == Understood(mood="a sad movie that will make me cry")
    assert not u.has_constraints
    # "fun" describes a mood (found by `make demo`: "something fun tonight" used to embed nothing).
    assert understander.understand("something fun tonight") == Understood(mood="something fun tonight")
    assert understander.understand("something nice tonight").mood == ""  # no mood in that


def test_tokens_keep_clause_boundaries() -> None:
    assert prompt_words("A comedy, nothing romantic; from the 90s.") == [
        "a",
        "comedy",
        "|",
        "nothing",
        "romantic",
        "|",
        "from",
        "the",
        "90s",
        "|",
    ]
    assert normalise("Amélie & Léon: the Professional!") == "amelie and leon the professional"


def test_understanding_is_fast(understander: Understander) -> None:
    prompts = [
        "a comedy, nothing romantic, from the 90s, like Superbad",
        "Tom Hanks movies",
        "something short for the kids, nothing scary",
        "a korean thriller from after 2010",
    ] * 50
    started = time.perf_counter()
    for p in prompts:
        understander.understand(p)
    per_prompt_ms = (time.perf_counter() - started) * 1000 / len(prompts)
    assert per_prompt_ms < 5  # generous: a regression guard, not a benchmark (make bench measures it)


def test_a_genre_asked_for_and_softened_stays_asked_for(understander: Understander) -> None:
    u = understander.understand("I like scary movies, not too gory")
    assert u.genres == ("Horror",) and u.excluded_genres == ()
    assert understander.understand("a comedy, not too scary").excluded_genres == ("Horror",)
