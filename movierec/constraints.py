"""Hard constraints: which catalogue movies a request allows (the filter between understanding and retrieval).

An Understood query's constraints become one boolean mask over the catalogue (n_movies,):
excluded genres, keywords, people and movies are out; when people, years, a runtime or languages
are asked for, only movies that have them are in (a movie whose year or runtime is unknown does not
satisfy a range). Wanted genres allow a movie that carries at least one of them; "for the kids"
allows Family movies only (TMDB's marker of a film for children; plenty of animation is not). None
when nothing is constrained.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from movierec.domain import Movie
from movierec.understanding import Understood, normalise

KIDS_GENRES = ("Family",)


class CatalogueFacets:
    """Per-movie metadata as arrays, built once per index: years int (n,), runtimes int (n,), languages str (n,),
    and genre / person / keyword -> movie rows."""

    def __init__(self, movies: Sequence[Movie]):
        self.n = len(movies)
        self.years = np.array([m.year for m in movies], dtype=np.int32)
        self.runtimes = np.array([m.runtime for m in movies], dtype=np.int32)
        self.languages = np.array([m.language for m in movies], dtype=object)
        self.genre_rows: dict[str, np.ndarray] = _inverted([m.genres for m in movies])
        self.person_rows: dict[str, np.ndarray] = _inverted([(*m.directors, *m.cast) for m in movies], normalise)
        self.keyword_rows: dict[str, np.ndarray] = _inverted([m.keywords for m in movies])

    def rows_with(self, table: dict[str, np.ndarray], names: Sequence[str], key=lambda x: x) -> np.ndarray:  # noqa: ANN001
        """Rows int64 (k,) of the movies with any of the names; a row may repeat (the callers index a
        mask with them, and deduplicating cost more than the rest of the mask)."""
        hits = [table.get(key(name), np.zeros(0, np.int64)) for name in names]
        return np.concatenate(hits) if hits else np.zeros(0, np.int64)

    def allowed(self, query: Understood, exclude_rows: Sequence[int] = ()) -> np.ndarray | None:
        """bool (n_movies,) of the movies the query allows, or None when it constrains nothing."""
        if not query.has_constraints and not len(exclude_rows):
            return None
        mask = np.ones(self.n, dtype=bool)

        def keep_only(rows: np.ndarray) -> None:
            only = np.zeros(self.n, dtype=bool)
            only[rows] = True
            mask[:] &= only

        if query.genres:
            keep_only(self.rows_with(self.genre_rows, query.genres))
        if query.for_kids:
            keep_only(self.rows_with(self.genre_rows, KIDS_GENRES))
        if query.people:
            keep_only(self.rows_with(self.person_rows, query.people, normalise))
        mask[self.rows_with(self.genre_rows, query.excluded_genres)] = False
        mask[self.rows_with(self.person_rows, query.excluded_people, normalise)] = False
        mask[self.rows_with(self.keyword_rows, query.excluded_keywords)] = False
        if query.year_min is not None:
            mask &= self.years >= query.year_min
        if query.year_max is not None:
            mask &= (self.years <= query.year_max) & (self.years > 0)
        if query.runtime_min is not None:
            mask &= self.runtimes >= query.runtime_min
        if query.runtime_max is not None:
            mask &= (self.runtimes <= query.runtime_max) & (self.runtimes > 0)
        if query.languages:
            mask &= np.isin(self.languages, list(query.languages))
        if query.excluded_languages:
            mask &= ~np.isin(self.languages, list(query.excluded_languages))
        mask[list(query.excluded_movies)] = False
        mask[list(exclude_rows)] = False
        return mask


def _inverted(values: Sequence[Sequence[str]], key=lambda x: x) -> dict[str, np.ndarray]:  # noqa: ANN001
    table: dict[str, list[int]] = {}
    for row, names in enumerate(values):
        for name in names:
            table.setdefault(key(name), []).append(row)
    return {name: np.array(sorted(set(rows)), dtype=np.int64) for name, rows in table.items()}
