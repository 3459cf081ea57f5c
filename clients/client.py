"""A typed Python client for the Recommender service."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
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
    # What of the request the movie does not meet ("genre", "years", "runtime"): a short list's tail.
    unmet: list[str] = field(default_factory=list)
    # Why this movie, in words ("Because you liked Heat", "A 1990s heist film, as asked").
    reason: str = ""
    # With `with_details`: runtime, directors, top cast, the overview's first sentence...
    details: MovieInfo | None = None


@dataclass(frozen=True)
class Recommendations:
    movies: list[MovieResult]
    index_version: str
    # What the server understood the request to ask for (the Understood message).
    understood: pb.Understood = field(default_factory=pb.Understood)
    # For a group request, the strategy that made the list.
    group_strategy: str = ""


def describe_understood(u: pb.Understood) -> str:
    """One line a person can check: "Comedy; not Romance; 1990-1999; like Super Troopers (2001); mood 'a comedy'".
    A constraint read from other words than its name says which: "not Fantasy (from 'wizards or dragons')"."""
    sources = {r.what: r.source for r in u.readings}
    turns = {c.what: c.turn for c in u.constraint_turns}

    def said(what: str) -> str:
        text = f"{what} (from '{sources[what]}')" if what in sources else what
        return f"{text} [turn {turns[what]}]" if what in turns else text

    def movies(refs: list[pb.MovieRef]) -> str:
        return ", ".join(f"{m.title} ({m.year})" if m.year else m.title for m in refs)

    parts = []
    if u.genres:
        parts.append(" or ".join(said(g) for g in u.genres))
    if u.for_kids:
        parts.append(said("for kids"))
    if u.excluded_genres:
        parts.append(", ".join(said(f"not {g}") for g in u.excluded_genres))
    if u.people:
        parts.append(" or ".join(said(f"with {p}") for p in u.people))
    if u.excluded_people:
        parts.append(", ".join(said(f"without {p}") for p in u.excluded_people))
    if u.HasField("year_min") or u.HasField("year_max"):
        low = str(u.year_min) if u.HasField("year_min") else ""
        high = str(u.year_max) if u.HasField("year_max") else ""
        parts.append(said(f"{low}-{high}" if low and high else f"from {low}" if low else f"until {high}"))
    if u.HasField("runtime_max") or u.HasField("runtime_min"):
        parts.append(
            " and ".join(
                ([said(f"at most {u.runtime_max} min")] if u.HasField("runtime_max") else [])
                + ([said(f"at least {u.runtime_min} min")] if u.HasField("runtime_min") else [])
            )
        )
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
    if u.named_movies:
        parts.append("named: " + ", ".join(f"{movies([n.movie])} {n.reading} [turn {n.turn}]" for n in u.named_movies))
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
    # Movie ids the user marked seen, and not interested, newest first.
    seen: list[int] = field(default_factory=list)
    not_interested: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class MovieInfo:
    """A catalogue movie in full (GetMovie; each SearchMovies match, with `score` 0..1)."""

    movie_id: int
    title: str
    year: int
    overview: str
    tagline: str
    genres: list[str]
    keywords: list[str]
    runtime: int
    language: str
    directors: list[str]
    cast: list[str]
    vote_average: float
    vote_count: int
    score: float | None = None


def movie_info(m: pb.MovieDetails, score: float | None = None) -> MovieInfo:
    return MovieInfo(
        m.movie_id,
        m.title,
        m.year,
        m.overview,
        m.tagline,
        list(m.genres),
        list(m.keywords),
        m.runtime,
        m.original_language,
        list(m.directors),
        list(m.cast),
        m.vote_average,
        m.vote_count,
        score,
    )


@dataclass(frozen=True)
class IndexDescription:
    index_version: str
    model: str
    dimensions: int
    movies: int
    users: int
    ranker: str = ""  # "learned", or "weighted sum (why)"
    server_version: str = ""
    prompt_encoder_backend: str = ""  # as it runs in the server
    catalogue_encoder_backend: str = ""  # as it ran in the indexer
    # The signals a movie's parts may name: (name, meaning, weight, anonymous weight), in the server's order.
    signals: tuple[tuple[str, str, float, float], ...] = ()


SERVICE = "movierec.v1.Recommender"
TOKEN_ENV = "MOVIEREC_TOKEN"


def service_config(timeout_s: float, wait_for_ready: bool = True, balanced: bool = False) -> str:
    """The gRPC service config the clients' channels carry: a default deadline per call, and retries
    with exponential backoff (by gRPC itself) for UNAVAILABLE and RESOURCE_EXHAUSTED. Every method may
    be retried: RecordFeedback carries a request id, so the server stores a retried rating once.
    `wait_for_ready`: a call made while the server is unreachable waits for it (up to its deadline)
    instead of failing at once, which carries calls across a server restart. `balanced`: calls go
    round robin over the target's addresses that are connected; a retry is picked anew, so a call cut
    by a replica that dies is retried on another one."""
    config: dict[str, Any] = {
        "methodConfig": [
            {
                "name": [{"service": SERVICE}],
                "timeout": f"{timeout_s:.3f}s",
                "waitForReady": wait_for_ready,
                "retryPolicy": {
                    "maxAttempts": 5,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"],
                },
            }
        ]
    }
    if balanced:
        config["loadBalancingConfig"] = [{"round_robin": {}}]
    return json.dumps(config)


def channel_arguments(timeout_s: float, wait_for_ready: bool = True, balanced: bool = False) -> list[tuple[str, Any]]:
    arguments: list[tuple[str, Any]] = [
        ("grpc.service_config", service_config(timeout_s, wait_for_ready, balanced)),
        ("grpc.enable_retries", 1),
    ]
    if balanced:
        # A replica that comes back is tried again within 5 s (gRPC's default backoff grows to 2 minutes).
        arguments.append(("grpc.max_reconnect_backoff_ms", 5000))
    return arguments


# Targets already in gRPC's name syntax (not host:port).
GRPC_SCHEMES = ("ipv4:", "ipv6:", "dns:", "unix:", "unix-abstract:", "vsock:", "xds:")


def split_targets(target: str | Sequence[str]) -> list[str]:
    """ "a:1,b:2" or ["a:1", "b:2"] -> ["a:1", "b:2"]."""
    parts = target.split(",") if isinstance(target, str) else [p for t in target for p in t.split(",")]
    targets = [p.strip() for p in parts if p.strip()]
    if not targets:
        raise ValueError("no server given: expected host:port, or several separated by commas")
    return targets


def channel_target(target: str | Sequence[str]) -> tuple[str, bool]:
    """The gRPC target for one server or several, and whether calls are balanced over several.

    One server is passed as it is (any gRPC target: host:port, dns:///..., unix:...), and so is a
    target in gRPC's own syntax. Several, given as host:port each, become one `ipv4:` (or `ipv6:`)
    target listing every address, which gRPC's round_robin policy spreads calls over; host names are
    resolved here, once.
    """
    if isinstance(target, str) and target.strip().startswith(GRPC_SCHEMES):
        target = target.strip()
        return target, target.startswith(("ipv4:", "ipv6:")) and "," in target
    targets = split_targets(target)
    if len(targets) == 1:
        return targets[0], False
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    ports: list[int] = []
    for item in targets:
        host, colon, port = item.rpartition(":")
        if not colon or not port.isdigit() or not host:
            raise ValueError(
                f"server {item!r} is not host:port (several servers are given as host:port each, separated by commas)"
            )
        host = host.strip("[]")
        try:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
        except ValueError:
            try:
                found = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
            except OSError as e:
                raise ValueError(f"server {item!r}: cannot resolve {host!r} ({e})") from None
            resolved = [ipaddress.ip_address(info[4][0]) for info in found]
            address = next((a for a in resolved if a.version == 4), resolved[0])
        addresses.append(address)
        ports.append(int(port))
    if len({a.version for a in addresses}) > 1:
        raise ValueError(f"servers {', '.join(targets)} mix IPv4 and IPv6 addresses; give them in one family")
    if addresses[0].version == 4:
        return "ipv4:" + ",".join(f"{a}:{p}" for a, p in zip(addresses, ports)), True
    return "ipv6:" + ",".join(f"[{a}]:{p}" for a, p in zip(addresses, ports)), True


def _channel_options(
    target: str | Sequence[str], timeout_s: float, wait_for_ready: bool, secure: bool
) -> tuple[str, list[tuple[str, Any]]]:
    address, balanced = channel_target(target)
    options = channel_arguments(timeout_s, wait_for_ready, balanced)
    if balanced and secure and address != target:
        # The certificate is checked against the first server's name as given (not its resolved address).
        options.append(("grpc.default_authority", split_targets(target)[0]))
    return address, options


def channel_credentials(
    tls_ca: str | Path | None = None, tls_cert: str | Path | None = None, tls_key: str | Path | None = None
) -> grpc.ChannelCredentials | None:
    """TLS credentials from PEM files: the CA that signed the server's certificate, and for mutual TLS
    the client's own certificate and key. None (plaintext) when no CA is given."""
    if tls_ca is None:
        if tls_cert or tls_key:
            raise ValueError("a client certificate needs tls_ca (the CA of the server's certificate) too")
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=Path(tls_ca).read_bytes(),
        private_key=Path(tls_key).read_bytes() if tls_key else None,
        certificate_chain=Path(tls_cert).read_bytes() if tls_cert else None,
    )


def call_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """The bearer token (or $MOVIEREC_TOKEN) as gRPC metadata."""
    token = token if token is not None else os.environ.get(TOKEN_ENV, "")
    return (("authorization", f"Bearer {token}"),) if token else ()


@dataclass(frozen=True)
class ChatTurn:
    """One turn of a conversation: role "seeker" (the people choosing) or "recommender" (whoever suggested),
    the text, and the speaker's user id when they are a known user (seekers only)."""

    role: str
    text: str
    user_id: int | None = None


_ROLES = {"seeker": pb.Turn.SEEKER, "recommender": pb.Turn.RECOMMENDER}


def turn_to_pb(turn: ChatTurn) -> pb.Turn:
    """ValueError for a role other than "seeker" or "recommender"."""
    if turn.role not in _ROLES:
        raise ValueError(f"a turn's role is 'seeker' or 'recommender', not {turn.role!r}")
    out = pb.Turn(role=_ROLES[turn.role], text=turn.text)
    if turn.user_id is not None:
        out.user_id = turn.user_id
    return out


def recommend_request(
    prompt: str = "",
    user_id: int | None = None,
    limit: int = 10,
    include_rated: bool = False,
    *,
    genres: list[str] | None = None,
    excluded_genres: list[str] | None = None,
    year_min: int | None = None,
    year_max: int | None = None,
    max_runtime: int | None = None,
    languages: list[str] | None = None,
    example_movie_ids: list[int] | None = None,
    excluded_movie_ids: list[int] | None = None,
    group_user_ids: list[int] | None = None,
    group_strategy: str = "",
    conversation: Sequence[ChatTurn] = (),
    with_details: bool = False,
    dropped: Sequence[str] = (),
) -> pb.RecommendRequest:
    request = pb.RecommendRequest(
        prompt=prompt,
        limit=limit,
        include_rated=include_rated,
        genres=genres or [],
        excluded_genres=excluded_genres or [],
        languages=languages or [],
        example_movie_ids=example_movie_ids or [],
        excluded_movie_ids=excluded_movie_ids or [],
        group_user_ids=group_user_ids or [],
        group_strategy=group_strategy,
        conversation=[turn_to_pb(t) for t in conversation],
        with_details=with_details,
        dropped=list(dropped),
    )
    for name, value in (
        ("user_id", user_id),
        ("year_min", year_min),
        ("year_max", year_max),
        ("max_runtime", max_runtime),
    ):
        if value is not None:
            setattr(request, name, value)
    return request


def recommendations(response: pb.RecommendResponse) -> Recommendations:
    return Recommendations(
        movies=[
            MovieResult(
                m.movie_id,
                m.title,
                m.year,
                list(m.genres),
                m.score,
                dict(m.signals),
                dict(m.member_fit),
                list(m.unmet),
                m.reason,
                movie_info(m.details) if m.HasField("details") else None,
            )
            for m in response.movies
        ],
        index_version=response.index_version,
        understood=response.understood,
        group_strategy=response.group_strategy,
    )


def index_description(info: pb.IndexInfo) -> IndexDescription:
    return IndexDescription(
        info.index_version,
        info.model,
        info.dimensions,
        info.movies,
        info.users,
        info.ranker,
        info.server_version,
        info.prompt_encoder_backend,
        info.catalogue_encoder_backend,
        tuple((s.name, s.meaning, s.weight, s.anonymous_weight) for s in info.signals),
    )


# The marks a user can set on a movie (RecommenderClient.mark): the kind names of FeedbackKind.
MARK_KINDS = {"seen": pb.SEEN, "not_interested": pb.NOT_INTERESTED}


def feedback_request(
    user_id: int, movie_id: int, rating: float, request_id: str = "", kind: int = pb.RATING, undo: bool = False
) -> pb.FeedbackRequest:
    # A request id made here when the caller gives none: gRPC's retries resend this same message, so a
    # retry after a lost reply is recognised by the server and stored once.
    return pb.FeedbackRequest(
        user_id=user_id,
        movie_id=movie_id,
        rating=rating,
        kind=kind,  # type: ignore[arg-type]
        undo=undo,
        request_id=request_id or f"auto-{uuid.uuid4().hex}",
    )


def mark_request(
    user_id: int, movie_id: int, kind: str, undo: bool = False, request_id: str = ""
) -> pb.FeedbackRequest:
    if kind not in MARK_KINDS:
        raise ValueError(f"a mark is one of {', '.join(MARK_KINDS)}; got {kind!r}")
    return feedback_request(user_id, movie_id, 0.0, request_id, MARK_KINDS[kind], undo)


def feedback_ack(reply: pb.FeedbackResponse) -> FeedbackAck:
    return FeedbackAck(reply.duplicate, reply.ratings, reply.timestamp)


def user_description(reply: pb.User) -> UserDescription:
    return UserDescription(
        reply.user_id,
        reply.ratings,
        [UserRating(r.movie_id, r.rating, r.timestamp) for r in reply.recent],
        seen=list(reply.seen),
        not_interested=list(reply.not_interested),
    )


HEALTH_REQUEST = health_pb2.HealthCheckRequest(service=SERVICE)


class RecommenderClient:
    """`RecommenderClient("127.0.0.1:50051").recommend("a feel-good romcom", user_id=42)`.

    Calls have a deadline of `timeout_s`, are retried by gRPC on UNAVAILABLE and RESOURCE_EXHAUSTED
    (service_config), and by default wait for an unreachable server up to that deadline. `target` may
    name several replicas ("127.0.0.1:50051,127.0.0.1:50052", or a list): calls are balanced round
    robin over those that answer, and a replica that dies is routed around. `tls_ca` (with
    `tls_cert`/`tls_key` for mutual TLS) turns TLS on; `token` (default $MOVIEREC_TOKEN) is sent
    as a bearer token. Errors arrive as grpc.RpcError with the server's status code and message.
    """

    def __init__(
        self,
        target: str | Sequence[str],
        timeout_s: float = 30.0,
        channel: grpc.Channel | None = None,
        *,
        token: str | None = None,
        tls_ca: str | Path | None = None,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        wait_for_ready: bool = True,
    ):
        if channel is None:
            credentials = channel_credentials(tls_ca, tls_cert, tls_key)
            address, options = _channel_options(target, timeout_s, wait_for_ready, credentials is not None)
            channel = (
                grpc.secure_channel(address, credentials, options)
                if credentials
                else grpc.insecure_channel(address, options)
            )
        self._channel = channel
        self._stub = pb_grpc.RecommenderStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = call_metadata(token)
        self.timeout_s = timeout_s

    def __enter__(self) -> RecommenderClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def recommend(
        self,
        prompt: str = "",
        user_id: int | None = None,
        limit: int = 10,
        include_rated: bool = False,
        **constraints: Any,
    ) -> Recommendations:
        """Ranked movies. Keyword-only constraints (as `recommend_request`: genres, excluded_genres, year_min,
        year_max, max_runtime, languages, example_movie_ids, excluded_movie_ids) replace what the prompt says
        about the same thing. `group_user_ids`: a movie night for several people (with user_id, if given):
        one list, and each member's fit per movie; `group_strategy` names how their tastes are combined.
        `conversation`: the turns so far (ChatTurn), oldest first; the prompt, if any, is one more seeker turn."""
        request = recommend_request(prompt, user_id, limit, include_rated, **constraints)
        return recommendations(self._stub.Recommend(request, timeout=self.timeout_s, metadata=self._metadata))

    def index_info(self) -> IndexDescription:
        return index_description(
            self._stub.GetIndexInfo(pb.GetIndexInfoRequest(), timeout=self.timeout_s, metadata=self._metadata)
        )

    def record_feedback(self, user_id: int, movie_id: int, rating: float, request_id: str = "") -> FeedbackAck:
        """Rate a movie; returns once the rating is stored durably. Retries (gRPC's) are idempotent; a
        caller retrying on its own should pass the same `request_id` each time."""
        request = feedback_request(user_id, movie_id, rating, request_id)
        return feedback_ack(self._stub.RecordFeedback(request, timeout=self.timeout_s, metadata=self._metadata))

    def mark(self, user_id: int, movie_id: int, kind: str, undo: bool = False, request_id: str = "") -> FeedbackAck:
        """Mark a movie "seen" or "not_interested" for a user (undo: take the mark back); it leaves (or
        returns to) their lists at once, durably, without being a rating."""
        request = mark_request(user_id, movie_id, kind, undo, request_id)
        return feedback_ack(self._stub.RecordFeedback(request, timeout=self.timeout_s, metadata=self._metadata))

    def search(self, query: str, limit: int = 10) -> list[MovieInfo]:
        """Catalogue movies whose title, year or people best match `query` ("inceptoin", "nolan dreams")."""
        reply = self._stub.SearchMovies(
            pb.SearchMoviesRequest(query=query, limit=limit), timeout=self.timeout_s, metadata=self._metadata
        )
        return [movie_info(m.movie, m.score) for m in reply.movies]

    def movie(self, movie_id: int) -> MovieInfo:
        return movie_info(
            self._stub.GetMovie(pb.GetMovieRequest(movie_id=movie_id), timeout=self.timeout_s, metadata=self._metadata)
        )

    def user(self, user_id: int, limit: int = 20) -> UserDescription:
        return user_description(
            self._stub.GetUser(
                pb.GetUserRequest(user_id=user_id, limit=limit), timeout=self.timeout_s, metadata=self._metadata
            )
        )

    def serving(self) -> bool:
        """True when the standard health service says SERVING."""
        try:
            reply = self._health.Check(HEALTH_REQUEST, timeout=2)
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


class AsyncRecommenderClient:
    """RecommenderClient's methods over `grpc.aio`, for asyncio callers (one target or several, likewise):

    async with AsyncRecommenderClient("127.0.0.1:50051") as client:
        result = await client.recommend("a feel-good romcom", user_id=42)
    """

    def __init__(
        self,
        target: str | Sequence[str],
        timeout_s: float = 30.0,
        *,
        token: str | None = None,
        tls_ca: str | Path | None = None,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        wait_for_ready: bool = True,
    ):
        credentials = channel_credentials(tls_ca, tls_cert, tls_key)
        address, options = _channel_options(target, timeout_s, wait_for_ready, credentials is not None)
        self._channel = (
            grpc.aio.secure_channel(address, credentials, options)
            if credentials
            else grpc.aio.insecure_channel(address, options)
        )
        self._stub = pb_grpc.RecommenderStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)
        self._metadata = call_metadata(token)
        self.timeout_s = timeout_s

    async def __aenter__(self) -> AsyncRecommenderClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def recommend(
        self,
        prompt: str = "",
        user_id: int | None = None,
        limit: int = 10,
        include_rated: bool = False,
        **constraints: Any,
    ) -> Recommendations:
        request = recommend_request(prompt, user_id, limit, include_rated, **constraints)
        return recommendations(await self._stub.Recommend(request, timeout=self.timeout_s, metadata=self._metadata))

    async def index_info(self) -> IndexDescription:
        return index_description(
            await self._stub.GetIndexInfo(pb.GetIndexInfoRequest(), timeout=self.timeout_s, metadata=self._metadata)
        )

    async def record_feedback(self, user_id: int, movie_id: int, rating: float, request_id: str = "") -> FeedbackAck:
        request = feedback_request(user_id, movie_id, rating, request_id)
        return feedback_ack(await self._stub.RecordFeedback(request, timeout=self.timeout_s, metadata=self._metadata))

    async def mark(
        self, user_id: int, movie_id: int, kind: str, undo: bool = False, request_id: str = ""
    ) -> FeedbackAck:
        request = mark_request(user_id, movie_id, kind, undo, request_id)
        return feedback_ack(await self._stub.RecordFeedback(request, timeout=self.timeout_s, metadata=self._metadata))

    async def user(self, user_id: int, limit: int = 20) -> UserDescription:
        return user_description(
            await self._stub.GetUser(
                pb.GetUserRequest(user_id=user_id, limit=limit), timeout=self.timeout_s, metadata=self._metadata
            )
        )

    async def serving(self) -> bool:
        try:
            reply = await self._health.Check(HEALTH_REQUEST, timeout=2)
        except grpc.RpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING
