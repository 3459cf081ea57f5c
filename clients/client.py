"""A typed Python client for the Recommender service."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc


@dataclass(frozen=True)
class MovieResult:
    movie_id: int
    title: str
    year: int
    genres: list[str]
    score: float
    signals: dict[str, float] = field(default_factory=dict)
    # For a group request: user id -> that member's fit, 0..1 (1: their favourite of the candidates).
    member_fit: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Recommendations:
    movies: list[MovieResult]
    index_version: str
    # What the server understood the request to ask for (the Understood message).
    understood: pb.Understood = field(default_factory=pb.Understood)
    # For a group request, the strategy that made the list.
    group_strategy: str = ""


def describe_understood(u: pb.Understood) -> str:
    """One line a person can check: "Comedy; not Romance; 1990-1999; like Super Troopers (2001); mood 'a comedy'"."""

    def movies(refs: list[pb.MovieRef]) -> str:
        return ", ".join(f"{m.title} ({m.year})" if m.year else m.title for m in refs)

    parts = []
    if u.genres:
        parts.append(" or ".join(u.genres))
    if u.for_kids:
        parts.append("for kids")
    if u.excluded_genres:
        parts.append("not " + ", ".join(u.excluded_genres))
    if u.people:
        parts.append("with " + " or ".join(u.people))
    if u.excluded_people:
        parts.append("without " + ", ".join(u.excluded_people))
    if u.HasField("year_min") or u.HasField("year_max"):
        low = str(u.year_min) if u.HasField("year_min") else ""
        high = str(u.year_max) if u.HasField("year_max") else ""
        parts.append(f"{low}-{high}" if low and high else f"from {low}" if low else f"until {high}")
    if u.HasField("runtime_max") or u.HasField("runtime_min"):
        parts.append(" and ".join(([f"at most {u.runtime_max} min"] if u.HasField("runtime_max") else [])
                                  + ([f"at least {u.runtime_min} min"] if u.HasField("runtime_min") else [])))
    if u.languages:
        parts.append("in " + " or ".join(u.languages))
    if u.excluded_languages:
        parts.append("not in " + ", ".join(u.excluded_languages))
    if u.examples:
        parts.append("like " + movies(list(u.examples)))
    if u.excluded_movies:
        parts.append("not " + movies(list(u.excluded_movies)))
    if u.excluded_keywords:
        parts.append("no " + ", ".join(u.excluded_keywords))
    if u.mood:
        parts.append(f"mood {u.mood!r}")
    return "; ".join(parts) or "nothing but the user's taste"


@dataclass(frozen=True)
class FeedbackAck:
    duplicate: bool
    ratings: int
    timestamp: int


@dataclass(frozen=True)
class UserRating:
    movie_id: int
    rating: float
    timestamp: int


@dataclass(frozen=True)
class UserDescription:
    user_id: int
    ratings: int
    recent: list[UserRating]


@dataclass(frozen=True)
class IndexDescription:
    index_version: str
    model: str
    dimensions: int
    movies: int
    users: int
    ranker: str = ""  # "learned", or "weighted sum (why)"
    server_version: str = ""


class RecommenderClient:
    """`RecommenderClient("127.0.0.1:50051").recommend("a feel-good romcom", user_id=42)`.

    Errors arrive as grpc.RpcError with the server's status code and message.
    """

    def __init__(self, target: str, timeout_s: float = 30.0, channel: grpc.Channel | None = None):
        self._channel = channel or grpc.insecure_channel(target)
        self._stub = pb_grpc.RecommenderStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self.timeout_s = timeout_s

    def __enter__(self) -> RecommenderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def recommend(self, prompt: str = "", user_id: int | None = None, limit: int = 10,
                  include_rated: bool = False, *, genres: list[str] | None = None,
                  excluded_genres: list[str] | None = None, year_min: int | None = None,
                  year_max: int | None = None, max_runtime: int | None = None, languages: list[str] | None = None,
                  example_movie_ids: list[int] | None = None,
                  excluded_movie_ids: list[int] | None = None, group_user_ids: list[int] | None = None,
                  group_strategy: str = "") -> Recommendations:
        """Ranked movies; the keyword-only constraints replace what the prompt says about the same thing.
        `group_user_ids`: a movie night for several people (with user_id, if given): one list, and each
        member's fit per movie."""
        request = pb.RecommendRequest(prompt=prompt, limit=limit, include_rated=include_rated, genres=genres or [],
                                      excluded_genres=excluded_genres or [], languages=languages or [],
                                      example_movie_ids=example_movie_ids or [],
                                      excluded_movie_ids=excluded_movie_ids or [],
                                      group_user_ids=group_user_ids or [], group_strategy=group_strategy)
        for name, value in (("user_id", user_id), ("year_min", year_min), ("year_max", year_max),
                            ("max_runtime", max_runtime)):
            if value is not None:
                setattr(request, name, value)
        response = self._stub.Recommend(request, timeout=self.timeout_s)
        return Recommendations(
            movies=[MovieResult(m.movie_id, m.title, m.year, list(m.genres), m.score, dict(m.signals),
                                dict(m.member_fit)) for m in response.movies],
            index_version=response.index_version,
            understood=response.understood,
            group_strategy=response.group_strategy,
        )

    def index_info(self) -> IndexDescription:
        info = self._stub.GetIndexInfo(pb.GetIndexInfoRequest(), timeout=self.timeout_s)
        return IndexDescription(info.index_version, info.model, info.dimensions, info.movies, info.users, info.ranker,
                                info.server_version)

    def record_feedback(self, user_id: int, movie_id: int, rating: float, request_id: str = "") -> FeedbackAck:
        """Rate a movie; returns once the rating is stored durably. Reuse `request_id` when retrying."""
        reply = self._stub.RecordFeedback(pb.FeedbackRequest(user_id=user_id, movie_id=movie_id, rating=rating,
                                                             request_id=request_id), timeout=self.timeout_s)
        return FeedbackAck(reply.duplicate, reply.ratings, reply.timestamp)

    def user(self, user_id: int, limit: int = 20) -> UserDescription:
        reply = self._stub.GetUser(pb.GetUserRequest(user_id=user_id, limit=limit), timeout=self.timeout_s)
        return UserDescription(reply.user_id, reply.ratings,
                               [UserRating(r.movie_id, r.rating, r.timestamp) for r in reply.recent])

    def serving(self) -> bool:
        """True when the standard health service says SERVING."""
        try:
            reply = self._health.Check(health_pb2.HealthCheckRequest(service="movierec.v1.Recommender"), timeout=2)
        except grpc.RpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    def wait_until_serving(self, timeout_s: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.serving():
                return True
            time.sleep(0.2)
        return False
