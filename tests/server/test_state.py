from __future__ import annotations

from movierec.diagnostics import InvalidArgument
from movierec.domain import RecommendQuery
from movierec.server.state import ServingState
from movierec.understanding import Understood


class StubRecommender:
    """Understands any prompt but "bad"; answers each query with its own prompt."""

    def understand(self, query: RecommendQuery) -> Understood:
        if query.prompt == "bad":
            raise InvalidArgument("genres: unknown genre 'bad'")
        return Understood(mood=query.prompt)

    def recommend_batch(self, queries: list[RecommendQuery], threads: int, understood: list[Understood]) -> list[str]:
        assert [u.mood for u in understood] == [q.prompt for q in queries]
        return [f"answer to {q.prompt}" for q in queries]


def test_a_query_that_fails_to_be_understood_fails_alone_in_its_batch() -> None:
    first, second = StubRecommender(), StubRecommender()  # two versions around a swap
    items = [
        (first, RecommendQuery("a", None, 10)),
        (first, RecommendQuery("bad", None, 10)),
        (second, RecommendQuery("c", None, 10)),
        (first, RecommendQuery("d", None, 10)),
    ]
    results = ServingState._answer_batch(items, threads=1)  # type: ignore[arg-type]
    assert results[0] == "answer to a" and results[2] == "answer to c" and results[3] == "answer to d"
    assert isinstance(results[1], InvalidArgument) and "genres" in str(results[1])
