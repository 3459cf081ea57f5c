"""The recommendation service core: validates requests, embeds prompts, ranks, returns domain objects.

The gRPC server and the evaluation harness both go through `Recommender.recommend_batch`, so what
is measured is what is served.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from movierec.artifact import IndexArtifact
from movierec.diagnostics import InvalidArgument, NotFound
from movierec.domain import IndexInfo, Recommendation, RecommendQuery, RecommendResult
from movierec.embedding import Encoder
from movierec.ranking import RankingConfig, RankRequest, Ranker
from movierec.settings import Settings

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


def ranking_config(settings: Settings) -> RankingConfig:
    return RankingConfig(**{f.name: getattr(settings, f.name) for f in fields(RankingConfig)})


def validate_query(prompt: str, user_id: int | None, limit: int, include_rated: bool,
                   max_prompt_chars: int) -> RecommendQuery:
    """Check a request's fields; raises InvalidArgument with a message a person can act on."""
    if len(prompt) > max_prompt_chars:
        raise InvalidArgument(f"prompt is {len(prompt)} characters; the limit is {max_prompt_chars}")
    if not prompt.strip() and user_id is None:
        raise InvalidArgument("prompt is empty: describe what you feel like watching, or give a user_id")
    if limit < 0 or limit > MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT} (0 means {DEFAULT_LIMIT}); got {limit}")
    return RecommendQuery(prompt=prompt.strip(), user_id=user_id, limit=limit or DEFAULT_LIMIT,
                          include_rated=include_rated)


class Recommender:
    """Answers validated queries against one index artifact with one encoder."""

    def __init__(self, index: IndexArtifact, encoder: Encoder, config: RankingConfig):
        if encoder.dimensions != index.dimensions:
            raise InvalidArgument(f"encoder has {encoder.dimensions} dimensions, index {index.path} has {index.dimensions}")
        self.index = index
        self.encoder = encoder
        self.ranker = Ranker(index, config)

    def with_config(self, config: RankingConfig) -> Recommender:
        """The same index and encoder ranked under other weights."""
        other = object.__new__(Recommender)
        other.__dict__.update(self.__dict__)
        other.ranker = self.ranker.with_config(config)
        return other

    @property
    def version(self) -> str:
        return self.index.version

    def info(self) -> IndexInfo:
        m = self.index.manifest
        return IndexInfo(index_version=self.version, model=m["model"]["name"], dimensions=self.index.dimensions,
                         movies=len(self.index.movies), users=len(self.index.user_ids))

    def user_row(self, user_id: int | None) -> int | None:
        if user_id is None:
            return None
        row = self.index.user_row.get(user_id)
        if row is None:
            raise NotFound(f"user {user_id} is not in the index (it has {len(self.index.user_ids)} users)")
        return row

    def recommend_batch(self, queries: list[RecommendQuery]) -> list[RecommendResult]:
        """Answer several queries with one encoder forward and one ranking pass.

        Raises NotFound for an unknown user (checked before any work is done).
        """
        user_rows = [self.user_row(q.user_id) for q in queries]
        prompts = [q.prompt for q in queries if q.prompt]
        vectors = iter(self.encoder.encode(prompts) if prompts else np.zeros((0, self.index.dimensions), np.float32))
        requests = [RankRequest(prompt=q.prompt, prompt_vector=next(vectors) if q.prompt else None, user_row=row,
                                limit=q.limit, include_rated=q.include_rated)
                    for q, row in zip(queries, user_rows)]
        results = []
        for ranked in self.ranker.rank(requests):
            movies = [Recommendation(movie=self.index.movies[row], score=float(ranked.scores[j]),
                                     signals={name: float(v[j]) for name, v in ranked.signals.items()})
                      for j, row in enumerate(ranked.rows.tolist())]
            results.append(RecommendResult(movies=movies, index_version=self.version))
        return results
