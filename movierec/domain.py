"""Domain types shared by the indexer, the ranking and the server (no protobuf here)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Movie:
    """One catalogue entry. `movie_id` is the TMDB id; `year` is 0 when unknown."""

    movie_id: int
    title: str
    year: int
    genres: tuple[str, ...]
    vote_average: float = 0.0
    vote_count: int = 0
    popularity: float = 0.0
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecommendQuery:
    """A validated recommendation request."""

    prompt: str
    user_id: int | None
    limit: int
    include_rated: bool = False


@dataclass(frozen=True)
class Recommendation:
    """One ranked movie and the weighted parts of its score (they sum to `score`)."""

    movie: Movie
    score: float
    signals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RecommendResult:
    movies: list[Recommendation]
    index_version: str


@dataclass(frozen=True)
class IndexInfo:
    index_version: str
    model: str
    dimensions: int
    movies: int
    users: int
