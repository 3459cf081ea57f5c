"""The bundled sample catalogue and an understanding stage built on it, for the understanding tests."""

from __future__ import annotations

import pytest
from conftest import SAMPLE_DATA

from movierec.domain import Movie
from movierec.indexer.catalogue import load_catalogue
from movierec.understanding import Understander


@pytest.fixture(scope="module")
def movies() -> list[Movie]:
    catalogue = load_catalogue(SAMPLE_DATA / "tmdb_5000_movies.csv", SAMPLE_DATA / "tmdb_5000_credits.csv")
    return [e.movie for e in catalogue.entries]


@pytest.fixture(scope="module")
def understander(movies: list[Movie]) -> Understander:
    return Understander(movies)
