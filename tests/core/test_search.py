"""Finding a movie by what a person remembers (movierec.search), on the bundled sample catalogue."""

from __future__ import annotations

import pytest

from movierec.domain import Movie
from movierec.search import MovieSearch


@pytest.fixture(scope="module")
def search(movies: list[Movie]) -> MovieSearch:
    return MovieSearch(movies)


def first(search: MovieSearch, query: str) -> Movie:
    return search.movies[search.search(query, 5)[0].row]


@pytest.mark.parametrize(
    "query, title",
    [
        ("inceptoin", "Inception"),
        ("Inception", "Inception"),
        ("toy story", "Toy Story"),
        ("toy story 2", "Toy Story 2"),
        ("the shawshank redemtion", "The Shawshank Redemption"),
        ("godfather", "The Godfather"),
        ("nolan dreams", "Inception"),
        ("that nolan film with the dreams", "Inception"),
        ("spielberg dinosaurs", "Jurassic Park"),
        ("wall-e", "WALL·E"),
        ("se7en", "Se7en"),
    ],
)
def test_what_people_remember_finds_the_movie(search: MovieSearch, query: str, title: str) -> None:
    assert first(search, query).title == title


def test_a_year_picks_the_right_one(search: MovieSearch, movies: list[Movie]) -> None:
    star_wars = next(m for m in movies if m.title == "Star Wars")
    assert first(search, f"star wars {star_wars.year}") == star_wars
    # A year alone finds that year's movies, not a title with a number like it.
    for year in (1994, 2001, 2010):
        found = search.search(str(year), 3)
        assert found and all(
            search.movies[m.row].year == year or str(year) in search.movies[m.row].title for m in found
        ), year


def test_scores_are_ordered_and_bounded(search: MovieSearch) -> None:
    matches = search.search("the dark knight", 10)
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    assert search.movies[matches[0].row].title == "The Dark Knight" and matches[0].score == pytest.approx(1.0)


def test_nothing_to_search_finds_nothing(search: MovieSearch) -> None:
    assert search.search("", 5) == [] and search.search("  !! ", 5) == []
    assert len(search.search("the", 3)) <= 3
