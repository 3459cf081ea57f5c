"""The constraint mask against a brute-force check of every movie, on a seeded synthetic catalogue."""

from __future__ import annotations

import random

import numpy as np
import pytest

from movierec.constraints import CatalogueFacets
from movierec.domain import Movie
from movierec.understanding import Understood

GENRES = ("Action", "Comedy", "Drama", "Family", "Animation", "Horror", "Romance")
PEOPLE = ("Ann Lee", "Bo Chen", "Cy Diaz", "Di Evans", "Ed Fox")
LANGUAGES = ("en", "fr", "ko", "ja")


@pytest.fixture(scope="module")
def movies() -> list[Movie]:
    rng = random.Random(5)
    return [
        Movie(
            movie_id=i + 1,
            title=f"m{i}",
            year=rng.choice([0, *range(1950, 2020)]),
            genres=tuple(rng.sample(GENRES, rng.randint(0, 3))),
            runtime=rng.choice([0, *range(70, 200)]),
            language=rng.choice(LANGUAGES),
            directors=(rng.choice(PEOPLE),),
            cast=tuple(rng.sample(PEOPLE, 2)),
            keywords=tuple(rng.sample(("zombie", "heist", "dog"), 1)),
        )
        for i in range(400)
    ]


def satisfies(m: Movie, row: int, q: Understood) -> bool:
    people = {*m.directors, *m.cast}
    return all(
        (
            not q.genres or bool(set(q.genres) & set(m.genres)),
            not q.for_kids or "Family" in m.genres,
            not set(q.excluded_genres) & set(m.genres),
            not q.people or bool(set(q.people) & people),
            not set(q.excluded_people) & people,
            not set(q.excluded_keywords) & set(m.keywords),
            q.year_min is None or m.year >= q.year_min,
            q.year_max is None or 0 < m.year <= q.year_max,
            q.runtime_min is None or m.runtime >= q.runtime_min,
            q.runtime_max is None or 0 < m.runtime <= q.runtime_max,
            not q.languages or m.language in q.languages,
            m.language not in q.excluded_languages,
            row not in q.excluded_movies,
        )
    )


def random_query(rng: random.Random) -> Understood:
    def some(values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(rng.sample(values, rng.choice([0, 0, 1, 2])))

    low = rng.choice([None, 1970, 1990, 2005])
    return Understood(
        genres=some(GENRES),
        excluded_genres=some(GENRES),
        people=some(PEOPLE),
        excluded_people=some(PEOPLE),
        year_min=low,
        year_max=rng.choice([None, 1999, 2015]),
        runtime_min=rng.choice([None, 100]),
        runtime_max=rng.choice([None, 90, 120]),
        languages=some(LANGUAGES),
        excluded_languages=some(LANGUAGES),
        excluded_keywords=some(("zombie", "heist")),
        excluded_movies=tuple(rng.sample(range(400), rng.choice([0, 3]))),
        for_kids=rng.random() < 0.2,
    )


def test_mask_equals_the_brute_force_check(movies: list[Movie]) -> None:
    facets = CatalogueFacets(movies)
    rng = random.Random(9)
    for _ in range(300):
        q = random_query(rng)
        mask = facets.allowed(q)
        expected = np.array([satisfies(m, i, q) for i, m in enumerate(movies)])
        if mask is None:
            assert expected.all() and not q.has_constraints
        else:
            np.testing.assert_array_equal(mask, expected, err_msg=str(q))


def test_no_constraint_is_no_mask_and_exclusions_alone_are_one(movies: list[Movie]) -> None:
    facets = CatalogueFacets(movies)
    assert facets.allowed(Understood(mood="anything")) is None
    mask = facets.allowed(Understood(), exclude_rows=[3, 7])
    assert mask is not None and mask.sum() == len(movies) - 2 and not mask[[3, 7]].any()


def test_people_match_whatever_the_case(movies: list[Movie]) -> None:
    facets = CatalogueFacets(movies)
    mask = facets.allowed(Understood(people=("ann lee",)))
    assert mask is not None and mask.any()
    np.testing.assert_array_equal(mask, [("Ann Lee" in (*m.directors, *m.cast)) for m in movies])
