"""The one place where protobuf messages become domain types and back (`from_pb` / `to_pb`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError, Message

from movierec import __version__
from movierec.conversation import constraint_words
from movierec.domain import RECOMMENDER, SEEKER, IndexInfo, Movie, RecommendResult, Turn
from movierec.recommender import UserSummary
from movierec.search import TOP_CAST
from movierec.store import NOT_INTERESTED, RATING, SEEN, StoredRating
from movierec.v1 import recommender_pb2 as pb


@dataclass(frozen=True)
class UnparsableRequest:
    """Stands in for a request whose bytes did not parse (e.g. a string field that is not UTF-8)."""

    message_type: str
    reason: str


def parser(message_type: type[Message]) -> Any:
    """A request deserializer that never raises: gRPC would report a raising one as INTERNAL."""

    def parse(data: bytes) -> Message | UnparsableRequest:
        try:
            return message_type.FromString(data)
        except (DecodeError, ValueError, UnicodeDecodeError) as e:
            return UnparsableRequest(message_type.DESCRIPTOR.full_name, str(e) or type(e).__name__)

    return parse


def _optional(request: Message, name: str) -> Any:
    return getattr(request, name) if request.HasField(name) else None


_ROLES = {pb.Turn.SEEKER: SEEKER, pb.Turn.RECOMMENDER: RECOMMENDER}
# A full stop, "!" or "?" then a space and a capital, not after an initial or a title ("J.", "Mrs.", "Capt.").
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z\"“])")
_ABBREVIATIONS = frozenset("mr mrs ms dr st jr sr mt ft lt col gen capt sgt cpl prof det gov sen rev vs no".split())


def turn_from_pb(turn: pb.Turn) -> Turn:
    """A conversation turn; an unset or unknown role becomes "" (validate_query names the turn)."""
    return Turn(role=_ROLES.get(turn.role, ""), text=turn.text, user_id=_optional(turn, "user_id"))


def recommend_args_from_pb(request: pb.RecommendRequest) -> dict[str, Any]:
    """Keyword arguments for `validate_query` (limits and ranges are checked there, not here)."""
    return {
        "prompt": request.prompt,
        "user_id": _optional(request, "user_id"),
        "limit": request.limit,
        "include_rated": request.include_rated,
        "genres": tuple(request.genres),
        "excluded_genres": tuple(request.excluded_genres),
        "year_min": _optional(request, "year_min"),
        "year_max": _optional(request, "year_max"),
        "max_runtime": _optional(request, "max_runtime"),
        "languages": tuple(code.strip().lower() for code in request.languages),
        "example_movie_ids": tuple(request.example_movie_ids),
        "excluded_movie_ids": tuple(request.excluded_movie_ids),
        "group_user_ids": tuple(request.group_user_ids),
        "group_strategy": request.group_strategy.strip(),
        "conversation": tuple(turn_from_pb(t) for t in request.conversation),
        "dropped": tuple(request.dropped),
    }


def _movie_ref(movie: Movie) -> pb.MovieRef:
    return pb.MovieRef(movie_id=movie.movie_id, title=movie.title, year=movie.year)


def understood_to_pb(result: RecommendResult) -> pb.Understood:
    u = result.understood
    if u is None:
        return pb.Understood()
    return pb.Understood(
        mood=u.mood,
        genres=u.genres,
        excluded_genres=u.excluded_genres,
        keywords=u.keywords,
        excluded_keywords=u.excluded_keywords,
        examples=[_movie_ref(m) for m in result.examples],
        excluded_movies=[_movie_ref(m) for m in result.excluded],
        people=u.people,
        excluded_people=u.excluded_people,
        year_min=u.year_min,
        year_max=u.year_max,
        runtime_min=u.runtime_min,
        runtime_max=u.runtime_max,
        languages=u.languages,
        excluded_languages=u.excluded_languages,
        for_kids=u.for_kids,
        readings=[pb.Reading(what=what, source=source) for what, source in u.readings],
        named_movies=[
            pb.NamedMovie(movie=_movie_ref(result.named[i]), reading=reading, turn=turn)
            for i, (_, reading, turn) in enumerate(u.named)
        ],
        constraint_turns=[pb.ConstraintTurn(what=what, turn=turn) for what, turn in u.from_turns],
        constraints=constraint_words(u),
    )


def first_sentence(text: str) -> str:
    """The first sentence of an overview ("Mr. Smith goes to Washington. He..." keeps "Mr."), or all of it."""
    for match in _SENTENCE_END.finditer(text):
        word = text[: match.start()].rsplit(None, 1)[-1] if text[: match.start()].strip() else ""
        if match.group() == "." and (len(word) == 1 or word.lower() in _ABBREVIATIONS):
            continue
        return text[: match.start() + 1]
    return text


def recommend_response_to_pb(result: RecommendResult, details: bool = False) -> pb.RecommendResponse:
    response = pb.RecommendResponse(
        index_version=result.index_version, understood=understood_to_pb(result), group_strategy=result.group_strategy
    )
    for r in result.movies:  # added in place: a third faster than building each ScoredMovie and copying it in
        scored = response.movies.add(
            movie_id=r.movie.movie_id,
            title=r.movie.title,
            year=r.movie.year,
            genres=r.movie.genres,
            score=r.score,
            reason=r.reason,
        )
        scored.signals.update(r.signals)
        if r.member_fit:
            scored.member_fit.update(r.member_fit)
        if r.unmet:
            scored.unmet.extend(r.unmet)
        if details:
            scored.details.CopyFrom(movie_details_to_pb(r.movie, overview=first_sentence(r.movie.overview)))
    return response


def movie_details_to_pb(movie: Movie, overview: str | None = None) -> pb.MovieDetails:
    """`overview`: in place of the movie's whole overview (a list shows its first sentence)."""
    return pb.MovieDetails(
        movie_id=movie.movie_id,
        title=movie.title,
        year=movie.year,
        overview=movie.overview if overview is None else overview,
        tagline=movie.tagline,
        genres=movie.genres,
        keywords=movie.keywords,
        runtime=movie.runtime,
        original_language=movie.language,
        directors=movie.directors,
        cast=movie.cast[:TOP_CAST],
        vote_average=movie.vote_average,
        vote_count=movie.vote_count,
    )


def search_response_to_pb(matches: list[tuple[Movie, float]]) -> pb.SearchMoviesResponse:
    return pb.SearchMoviesResponse(
        movies=[pb.MovieMatch(movie=movie_details_to_pb(m), score=score) for m, score in matches]
    )


def index_info_to_pb(info: IndexInfo) -> pb.IndexInfo:
    return pb.IndexInfo(
        server_version=__version__,
        index_version=info.index_version,
        model=info.model,
        dimensions=info.dimensions,
        movies=info.movies,
        users=info.users,
        ranker=info.ranker,
        prompt_encoder_backend=info.prompt_encoder_backend,
        catalogue_encoder_backend=info.catalogue_encoder_backend,
        signals=[
            pb.SignalInfo(name=s.name, meaning=s.meaning, weight=s.weight, anonymous_weight=s.anonymous_weight)
            for s in info.signals
        ],
    )


_KINDS = {pb.FEEDBACK_KIND_UNSPECIFIED: RATING, pb.RATING: RATING, pb.SEEN: SEEN, pb.NOT_INTERESTED: NOT_INTERESTED}


def feedback_args_from_pb(request: pb.FeedbackRequest) -> dict[str, Any]:
    """Keyword arguments for `validate_feedback` (a kind this program does not know is named by its number,
    which validate_feedback refuses)."""
    return {
        "user_id": request.user_id,
        "movie_id": request.movie_id,
        "rating": request.rating,
        "request_id": request.request_id,
        "kind": _KINDS.get(request.kind, f"number {request.kind}"),
        "undo": request.undo,
    }


def feedback_response_to_pb(stored: StoredRating, ratings: int) -> pb.FeedbackResponse:
    return pb.FeedbackResponse(duplicate=stored.duplicate, ratings=ratings, timestamp=stored.timestamp)


def user_to_pb(summary: UserSummary) -> pb.User:
    return pb.User(
        user_id=summary.user_id,
        ratings=summary.ratings,
        recent=[pb.Rating(movie_id=m, rating=r, timestamp=t) for m, r, t in summary.recent],
        seen=summary.seen,
        not_interested=summary.not_interested,
    )
