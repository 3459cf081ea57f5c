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


@dataclass(frozen=True)
class Recommendations:
    movies: list[MovieResult]
    index_version: str


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
                  include_rated: bool = False) -> Recommendations:
        request = pb.RecommendRequest(prompt=prompt, limit=limit, include_rated=include_rated)
        if user_id is not None:
            request.user_id = user_id
        response = self._stub.Recommend(request, timeout=self.timeout_s)
        return Recommendations(
            movies=[MovieResult(m.movie_id, m.title, m.year, list(m.genres), m.score, dict(m.signals))
                    for m in response.movies],
            index_version=response.index_version,
        )

    def index_info(self) -> IndexDescription:
        info = self._stub.GetIndexInfo(pb.GetIndexInfoRequest(), timeout=self.timeout_s)
        return IndexDescription(info.index_version, info.model, info.dimensions, info.movies, info.users)

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
