"""The recommendation service core: validates requests, embeds prompts, ranks, returns domain objects.

The gRPC server and the evaluation harness both go through `Recommender.recommend_batch`, so what
is measured is what is served. A Recommender also holds the live overlay: ratings recorded since
its index was built, applied at once to the users who gave them.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from movierec import signals as registry
from movierec.artifact import IndexArtifact
from movierec.constraints import CatalogueFacets
from movierec.conversation import read_conversation, without_constraints
from movierec.diagnostics import InvalidArgument, NotFound
from movierec.domain import (
    RECOMMENDER,
    SEEKER,
    IndexInfo,
    Movie,
    Recommendation,
    RecommendQuery,
    RecommendResult,
    SignalInfo,
    Turn,
)
from movierec.embedding import TextEncoder
from movierec.group import MAX_MEMBERS, STRATEGY_NAMES
from movierec.ranking import GroupRankRequest, Ranked, Ranker, RankingConfig, RankRequest, UserProfile
from movierec.reasons import Reasoner, nearest_favourites
from movierec.search import MAX_QUERY_CHARS, MovieSearch
from movierec.store import KINDS, NOT_INTERESTED, RATING, SEEN, StoredRating
from movierec.taste import centred_taste_vectors
from movierec.understanding import Understander, Understood, with_example_genres

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
DEFAULT_RECENT, MAX_RECENT = 20, 1000
MIN_YEAR, MAX_YEAR = 1870, 2100
MAX_REQUEST_ID = 128
# How many unknown ids an error message names before it says "and N more".
MAX_NAMED = 10
# A request's dropped constraints: how many, and how long each may be.
MAX_DROPPED, MAX_DROPPED_CHARS = 50, 200
MAX_TURNS, MAX_CONVERSATION_CHARS = 50, 20_000
DEFAULT_MATCHES, MAX_MATCHES = 10, 50
TURN_CACHE = 8192  # conversation turns whose reading is kept (a few KB each)


def validate_conversation(conversation: tuple[Turn, ...], prompt: str, max_prompt_chars: int) -> tuple[Turn, ...]:
    """The turns, checked: InvalidArgument naming the turn (counted from 0) for a missing role, an empty turn,
    a turn over the prompt limit, a user id on a RECOMMENDER turn, more than MAX_TURNS turns or more than
    MAX_CONVERSATION_CHARS characters in all (the prompt, the last SEEKER turn, included)."""
    if not conversation:
        return ()
    if len(conversation) > MAX_TURNS:
        raise InvalidArgument(
            f"conversation has {len(conversation)} turns; the limit is {MAX_TURNS} (send the most recent ones)"
        )
    total = sum(len(t.text) for t in conversation) + len(prompt)
    if total > MAX_CONVERSATION_CHARS:
        raise InvalidArgument(
            f"conversation has {total} characters in all (prompt included); "
            f"the limit is {MAX_CONVERSATION_CHARS} (send the most recent turns)"
        )
    for i, turn in enumerate(conversation):
        if turn.role not in (SEEKER, RECOMMENDER):
            raise InvalidArgument(f"conversation turn {i}: role is not set; say SEEKER or RECOMMENDER")
        if not turn.text.strip():
            raise InvalidArgument(f"conversation turn {i}: the text is empty")
        if len(turn.text) > max_prompt_chars:
            raise InvalidArgument(
                f"conversation turn {i} is {len(turn.text)} characters; the limit per turn is {max_prompt_chars}"
            )
        if turn.role == RECOMMENDER and turn.user_id is not None:
            raise InvalidArgument(
                f"conversation turn {i}: a RECOMMENDER turn has no user_id (the speakers with "
                "user ids are the seekers, who form the group)"
            )
    return conversation


def validate_query(
    prompt: str,
    user_id: int | None,
    limit: int,
    include_rated: bool,
    max_prompt_chars: int,
    group_user_ids: tuple[int, ...] = (),
    group_strategy: str = "",
    conversation: tuple[Turn, ...] = (),
    dropped: tuple[str, ...] = (),
    **constraints: Any,
) -> RecommendQuery:
    """Check a request's fields; raises InvalidArgument with a message a person can act on.

    `constraints` are RecommendQuery's explicit constraint fields; their shapes are checked here,
    their names against the catalogue by Recommender.understand. The group is user_id and
    group_user_ids together (a group of one is a single user's request), joined by the conversation's
    speakers with a user id. With a conversation, the prompt (when not blank) becomes its last SEEKER turn.
    """
    if len(prompt) > max_prompt_chars:
        raise InvalidArgument(f"prompt is {len(prompt)} characters; the limit is {max_prompt_chars}")
    if len(dropped) > MAX_DROPPED:
        raise InvalidArgument(f"dropped names {len(dropped)} constraints; the limit is {MAX_DROPPED}")
    for i, name in enumerate(dropped):
        if len(name) > MAX_DROPPED_CHARS:
            raise InvalidArgument(f"dropped[{i}] is {len(name)} characters; the limit is {MAX_DROPPED_CHARS}")
    turns = validate_conversation(tuple(conversation), prompt, max_prompt_chars)
    speakers = tuple(t.user_id for t in turns if t.user_id is not None)
    members = tuple(dict.fromkeys(((user_id,) if user_id is not None else ()) + tuple(group_user_ids) + speakers))
    if len(members) > MAX_MEMBERS:  # checked first: a huge list costs one pass, nothing more
        raise InvalidArgument(
            f"the group has {len(members)} members (user_id and group_user_ids together); the limit is {MAX_MEMBERS}"
        )
    if len(set(group_user_ids)) < len(group_user_ids):
        repeated = sorted(u for u, n in Counter(group_user_ids).items() if n > 1)
        raise InvalidArgument(f"group_user_ids lists user {', '.join(map(str, repeated))} more than once")
    if group_strategy and group_strategy not in STRATEGY_NAMES:
        raise InvalidArgument(
            f"group_strategy {group_strategy!r} is not one of {', '.join(STRATEGY_NAMES)} (empty: the server's default)"
        )
    if len(members) == 1:
        user_id = members[0]
    query = RecommendQuery(
        prompt=prompt.strip(),
        user_id=user_id,
        limit=limit or DEFAULT_LIMIT,
        include_rated=include_rated,
        group_user_ids=members if len(members) > 1 else (),
        group_strategy=group_strategy,
        conversation=turns,
        dropped=tuple(dropped),
        **constraints,
    )
    said = query.prompt or any(t.role == SEEKER for t in turns)
    if not said and not members and not query.has_explicit_constraints:
        empty = "prompt is empty and the conversation has no SEEKER turn" if turns else "prompt is empty"
        raise InvalidArgument(
            empty + ": describe what you feel like watching, give a user_id "
            "(or a group's group_user_ids), or constrain the list (genres, years, languages, "
            "example movies)"
        )
    if limit < 0 or limit > MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT} (0 means {DEFAULT_LIMIT}); got {limit}")
    for name in ("year_min", "year_max"):
        year = getattr(query, name)
        if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
            raise InvalidArgument(f"{name} must be a year between {MIN_YEAR} and {MAX_YEAR}; got {year}")
    if query.year_min is not None and query.year_max is not None and query.year_min > query.year_max:
        raise InvalidArgument(f"year_min ({query.year_min}) is after year_max ({query.year_max})")
    if query.max_runtime is not None and not 1 <= query.max_runtime <= 1000:
        raise InvalidArgument(f"max_runtime must be 1 to 1000 minutes; got {query.max_runtime}")
    both = sorted({g.lower() for g in query.genres} & {g.lower() for g in query.excluded_genres})
    if both:
        raise InvalidArgument(f"genres and excluded_genres both name {', '.join(both)}")
    for code in query.languages:
        if not re.fullmatch(r"[a-z]{2,3}", code):
            raise InvalidArgument(f"languages: {code!r} is not an ISO 639-1 code such as 'fr' or 'ko'")
    return query


@dataclass(frozen=True)
class Feedback:
    """A rating (`kind` "rating") or a mark ("seen", "not_interested"; `rating` 0; `undo` takes it back)."""

    user_id: int
    movie_id: int
    rating: float
    request_id: str | None
    kind: str = RATING
    undo: bool = False


def validate_feedback(
    user_id: int, movie_id: int, rating: float, request_id: str, kind: str = RATING, undo: bool = False
) -> Feedback:
    if user_id < 1:
        raise InvalidArgument(f"user_id must be a positive number; got {user_id}")
    if kind not in KINDS:
        raise InvalidArgument(f"kind must be one of {', '.join(k.upper() for k in KINDS)}; got {kind!r}")
    if kind == RATING:
        if undo:
            raise InvalidArgument(
                "undo takes back a SEEN or NOT_INTERESTED mark; a rating is changed by rating the movie again"
            )
        if not math.isfinite(rating) or not 0.5 <= rating <= 5.0 or (rating * 2) != int(rating * 2):
            raise InvalidArgument(f"rating must be 0.5 to 5.0 in steps of 0.5; got {rating:g}")
    elif rating != 0:
        raise InvalidArgument(f"a {kind.upper()} mark carries no rating (leave rating unset); got {rating:g}")
    if len(request_id) > MAX_REQUEST_ID:
        raise InvalidArgument(f"request_id is {len(request_id)} characters; the limit is {MAX_REQUEST_ID}")
    return Feedback(user_id, movie_id, float(rating) if kind == RATING else 0.0, request_id or None, kind, undo)


@dataclass(frozen=True)
class UserSummary:
    user_id: int
    ratings: int
    recent: list[tuple[int, float, int]]  # (movie_id, rating, timestamp), newest first
    seen: list[int] = field(default_factory=list)  # movie ids marked seen, newest first
    not_interested: list[int] = field(default_factory=list)


def _without_genre_wish(u: Understood, q: RecommendQuery) -> tuple[Understood, tuple[str, ...]] | None:
    """The request without the genres its text asked for (never the request's own `genres` field)."""
    return (replace(u, genres=()), ("genre",)) if u.genres and not q.genres else None


def _without_vague_bounds(u: Understood, q: RecommendQuery) -> tuple[Understood, tuple[str, ...]] | None:
    """The request without year bounds read from vague words and with a runtime cap read from one a quarter
    of an hour longer (never the request's own year or runtime fields)."""
    changes: dict[str, Any] = {}
    given_up: list[str] = []
    if "years" in u.vague and q.year_min is None and q.year_max is None:
        changes.update(year_min=None, year_max=None)
        given_up.append("years")
    if "runtime" in u.vague and u.runtime_max is not None and q.max_runtime is None:
        changes.update(runtime_max=u.runtime_max + 15)
        given_up.append("runtime")
    return (replace(u, vague=(), **changes), tuple(given_up)) if given_up else None


def _without_earlier_people(u: Understood, q: RecommendQuery) -> tuple[Understood, tuple[str, ...]] | None:
    """A conversation without the people its earlier turns named (the last seeker turn's people hold): said
    in passing about a movie ("Johnny Depp singing. Classic."), they should not keep a list short."""
    if not q.conversation or not u.people:
        return None
    last = max((i for i, t in enumerate(q.turns) if t.role == SEEKER), default=-1)
    turns = dict(u.from_turns)
    kept = tuple(p for p in u.people if turns.get(f"with {p}", last) >= last)
    return (replace(u, people=kept), ("people",)) if kept != u.people else None


class Recommender:
    """Answers validated queries against one index artifact with one encoder, plus live feedback."""

    def __init__(
        self, index: IndexArtifact, encoder: TextEncoder, config: RankingConfig, profile_cache_mb: float = 256
    ):
        if encoder.dimensions != index.dimensions:
            raise InvalidArgument(
                f"encoder has {encoder.dimensions} dimensions, index {index.path} has {index.dimensions}"
            )
        self.index = index
        self.encoder = encoder
        self.ranker = Ranker(index, config)
        self.understander = Understander(index.movies)
        # A conversation resends its earlier turns with every request: each turn's text is read once.
        self.understand_turn = lru_cache(maxsize=TURN_CACHE)(self.understander.understand)
        self.facets = CatalogueFacets(index.movies)
        self._genre_names = {g.lower(): g for g in self.understander.genres}
        # Ratings newer than the index: user id -> movie row -> (rating, timestamp).
        self._live: dict[int, dict[int, tuple[float, int]]] = {}
        # (user id, movie row) -> (timestamp, seq) of the store row that `_live` holds for it.
        self._live_order: dict[tuple[int, int], tuple[int, int]] = {}
        # Marks (seen, not interested), which no index holds: user id -> kind -> movie row -> timestamp
        # of the mark in force; and (user id, movie row, kind) -> seq of the last row applied.
        self._marks: dict[int, dict[str, dict[int, int]]] = {}
        self._mark_seq: dict[tuple[int, int, str], int] = {}
        # Recently used profiles (history, taste vector, EASE scores), so a returning user costs a
        # lookup; a rating drops the user's entry. Least recently used go first.
        self._profiles: OrderedDict[int, UserProfile] = OrderedDict()
        self._profile_cache_size = int(max(0.0, profile_cache_mb) * 2**20 // self.ranker.profile_bytes())
        self._lock = threading.Lock()

    def with_config(self, config: RankingConfig) -> Recommender:
        """The same index, encoder and live state (ratings, marks) ranked under other weights.

        It caches profiles of its own, since a profile with marks depends on the config; so feedback is
        applied before the copies are made (`apply` on one drops only its own cached profiles)."""
        other = object.__new__(Recommender)
        other.__dict__.update(self.__dict__)
        other.ranker = self.ranker.with_config(config)
        other._profiles = OrderedDict()
        return other

    @property
    def version(self) -> str:
        return self.index.version

    @property
    def store_seq(self) -> int:
        """The last ratings-store row the index already contains."""
        return self.index.manifest.store_seq

    def info(self) -> IndexInfo:
        model, config = self.index.manifest.model, self.ranker.config
        new_users = sum(1 for u in list(self._live) if u not in self.index.user_row)
        return IndexInfo(
            index_version=self.version,
            model=model.name if model else "",
            dimensions=self.index.dimensions,
            movies=len(self.index.movies),
            users=len(self.index.user_ids) + new_users,
            ranker=self.ranker_in_use(),
            prompt_encoder_backend=self.encoder.backend,
            catalogue_encoder_backend=(model and model.backend) or "",
            signals=tuple(
                SignalInfo(s.name, s.meaning, config.weight(s.name), config.weight(s.name, anonymous=True))
                for s in registry.REGISTRY
            ),
        )

    def ranker_in_use(self) -> str:
        """ "learned", or "weighted sum (why)"."""
        if self.ranker.scorer is not None:
            return "learned"
        if self.ranker.config.ranker != "learned":
            return "weighted sum (setting ranker)"
        entry = self.index.manifest.learned
        reason = self.index.learned_problem or (entry and entry.skipped) or "the index has no learned model"
        return f"weighted sum ({reason})"

    # -- users --------------------------------------------------------------------------------
    def check_users(self, query: RecommendQuery) -> None:
        """NotFound naming the first unknown user or group member (and the turn, for a conversation's speaker)."""
        turn_of = {t.user_id: i for i, t in reversed(list(enumerate(query.conversation))) if t.user_id is not None}
        for user_id in query.members:
            try:
                self.check_user(user_id)
            except NotFound as e:
                if user_id in turn_of:
                    raise NotFound(f"conversation turn {turn_of[user_id]}: {e}") from None
                raise

    def check_user(self, user_id: int | None) -> None:
        if (
            user_id is not None
            and user_id not in self.index.user_row
            and user_id not in self._live
            and user_id not in self._marks
        ):
            raise NotFound(
                f"user {user_id} is not known (the index has {len(self.index.user_ids)} users; "
                "a new user becomes known with their first rating or seen / not-interested mark)"
            )

    @cached_property
    def movie_search(self) -> MovieSearch:
        """Built on the first search (a server that is never asked pays nothing)."""
        return MovieSearch(self.index.movies)

    def search_movies(self, query: str, limit: int) -> list[tuple[Movie, float]]:
        """The catalogue movies that best match `query` (movierec.search), best first, with their scores."""
        if not query.strip():
            raise InvalidArgument("query is empty: type a title (typos are fine), a year or a name")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidArgument(f"query is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
        if limit < 0 or limit > MAX_MATCHES:
            raise InvalidArgument(f"limit must be between 1 and {MAX_MATCHES} (0 means {DEFAULT_MATCHES}); got {limit}")
        return [(self.index.movies[m.row], m.score) for m in self.movie_search.search(query, limit or DEFAULT_MATCHES)]

    def movie(self, movie_id: int) -> Movie:
        """NotFound for a movie the catalogue does not have."""
        return self.index.movies[self.check_movie(movie_id)]

    def check_movie(self, movie_id: int) -> int:
        row = self.index.movie_row.get(movie_id)
        if row is None:
            raise NotFound(f"movie {movie_id} is not in the catalogue")
        return row

    def _history(self, user_id: int) -> dict[int, tuple[float, int]]:
        """movie row -> (rating, timestamp): the index's ratings with live ones on top."""
        history: dict[int, tuple[float, int]] = {}
        row = self.index.user_row.get(user_id)
        if row is not None:
            rows, values, timestamps = self.index.history(row)
            for movie, rating, ts in zip(rows.tolist(), values.tolist(), timestamps.tolist()):
                history[movie] = (rating, ts)
        history.update(self._live.get(user_id, {}))
        return history

    def profile(self, user_id: int | None) -> UserProfile | None:
        if user_id is None:
            return None
        self.check_user(user_id)
        # Built and cached under the lock, so a rating applied meanwhile is never lost.
        with self._lock:
            cached = self._profiles.get(user_id)
            if cached is not None:
                self._profiles.move_to_end(user_id)
                return cached
            row = self.index.user_row.get(user_id)
            if user_id not in self._live and row is not None:
                profile = self.ranker.profile(row)
            else:
                history = self._history(user_id)
                rows = np.array(sorted(history), dtype=np.int64)
                values = np.array([history[r][0] for r in rows.tolist()], dtype=np.float32)
                taste = centred_taste_vectors(
                    self.index.movie_vectors, np.array([0, len(rows)], np.int64), rows, values
                )[0]
                profile = self.ranker.make_profile(row, rows, values, taste)
            if user_id in self._marks:
                profile = self._with_marks(profile, self._marks[user_id])
            if self._profile_cache_size:
                self._profiles[user_id] = profile
                if len(self._profiles) > self._profile_cache_size:
                    self._profiles.popitem(last=False)
            return profile

    def _with_marks(self, profile: UserProfile, marks: dict[str, dict[int, int]]) -> UserProfile:
        """The profile with the user's marks: the rows they mark seen and not interested, and collaborative
        scores that count the not-interested movies against what is watched with them (`not_interested_weight`
        times their own collaborative scores, subtracted). Moving the taste vector away from them instead
        was measured too, and lowered the next list's NDCG (movierec.evaluation.marks)."""
        seen = np.array(sorted(marks.get(SEEN, {})), dtype=np.int64)
        unwanted = np.array(sorted(marks.get(NOT_INTERESTED, {})), dtype=np.int64)
        weight = self.ranker.config.not_interested_weight
        if not len(unwanted) or weight <= 0:
            return replace(profile, seen_rows=seen, unwanted_rows=unwanted)
        collaborative = profile.collaborative - np.float32(weight) * self.ranker.collaborative_scores(unwanted)
        return replace(profile, seen_rows=seen, unwanted_rows=unwanted, collaborative=collaborative)

    def apply(self, rating: StoredRating) -> bool:
        """Fold a recorded rating or mark into the user's live profile (the index itself is unchanged).

        For the same user and movie (and mark kind) the later row wins, by (timestamp, seq) as in a
        reindex, so the order rows arrive in does not matter (a replica applies its own at once and the
        others' as it reads them), and a row applied twice changes nothing. False when it changed nothing.
        """
        movie_row = self.index.movie_row.get(rating.movie_id)
        if movie_row is None:  # rated against another catalogue; the next reindex reports it
            return False
        if rating.is_mark:
            return self._apply_mark(rating, movie_row)
        key, order = (rating.user_id, movie_row), (rating.timestamp, rating.seq)
        with self._lock:
            applied = self._live_order.get(key)
            if applied is not None and applied >= order:
                return False
            self._live_order[key] = order
            self._live.setdefault(rating.user_id, {})[movie_row] = (rating.rating, rating.timestamp)
            self._profiles.pop(rating.user_id, None)
        return True

    def _apply_mark(self, mark: StoredRating, movie_row: int) -> bool:
        # Marks are ordered by seq alone (commit order): no reindex merges them with dated CSV rows, and
        # an undo must win over the mark before it even when the clocks of two replicas disagree.
        key = (mark.user_id, movie_row, mark.kind)
        with self._lock:
            if self._mark_seq.get(key, 0) >= mark.seq:
                return False
            self._mark_seq[key] = mark.seq
            if mark.undo:  # taking back a mark that was never set makes no one a user
                self._marks.get(mark.user_id, {}).get(mark.kind, {}).pop(movie_row, None)
            else:
                self._marks.setdefault(mark.user_id, {}).setdefault(mark.kind, {})[movie_row] = mark.timestamp
            self._profiles.pop(mark.user_id, None)
        return True

    def marked(self, user_id: int, kind: str) -> list[int]:
        """The movie ids `user_id` marks `kind` (seen, not_interested), newest first."""
        with self._lock:
            marked = dict(self._marks.get(user_id, {}).get(kind, {}))
        return [int(self.index.movie_ids[r]) for r, _ in sorted(marked.items(), key=lambda kv: (-kv[1], kv[0]))]

    def user_summary(self, user_id: int, limit: int) -> UserSummary:
        if limit < 0 or limit > MAX_RECENT:
            raise InvalidArgument(f"limit must be between 1 and {MAX_RECENT} (0 means {DEFAULT_RECENT}); got {limit}")
        self.check_user(user_id)
        with self._lock:
            history = self._history(user_id)
        newest = sorted(history.items(), key=lambda kv: (-kv[1][1], kv[0]))[: limit or DEFAULT_RECENT]
        return UserSummary(
            user_id,
            len(history),
            [(int(self.index.movie_ids[r]), float(v), int(ts)) for r, (v, ts) in newest],
            seen=self.marked(user_id, SEEN)[: limit or DEFAULT_RECENT],
            not_interested=self.marked(user_id, NOT_INTERESTED)[: limit or DEFAULT_RECENT],
        )

    def rating_count(self, user_id: int) -> int:
        with self._lock:
            return len(self._history(user_id))

    # -- understanding ------------------------------------------------------------------------
    def check_fields(self, query: RecommendQuery) -> None:
        """Raise InvalidArgument, naming the field, for explicit genres, languages or movie ids the
        catalogue does not have (what `understand` would raise, without parsing the prompt)."""
        for field_name in ("genres", "excluded_genres"):
            self._genres(field_name, getattr(query, field_name))
        self._languages(query.languages)
        self._rows("example_movie_ids", query.example_movie_ids)
        self._rows("excluded_movie_ids", query.excluded_movie_ids)

    def understand(self, query: RecommendQuery) -> Understood:
        """The prompt parsed against this catalogue, with the query's explicit constraints on top.

        Raises InvalidArgument, naming the field, for genres, languages or movie ids the catalogue
        does not have.
        """
        if query.conversation:
            text = read_conversation(self.understand_turn, query.turns, self.ranker.config.conversation_mood_words)
        else:
            text = self.understander.understand(query.prompt) if query.prompt else Understood()
        if query.dropped:  # a person removed what they did not mean
            text = without_constraints(text, query.dropped)
        changes: dict[str, Any] = {}
        if query.genres or query.excluded_genres:
            wanted = (
                self._genres("genres", query.genres)
                if query.genres
                else tuple(g for g in text.genres if g.lower() not in {x.lower() for x in query.excluded_genres})
            )
            excluded = (
                self._genres("excluded_genres", query.excluded_genres)
                if query.excluded_genres
                else tuple(g for g in text.excluded_genres if g not in wanted)
            )
            changes.update(genres=wanted, excluded_genres=excluded)
        if query.languages:
            self._languages(query.languages)
            changes.update(
                languages=tuple(query.languages),
                excluded_languages=tuple(c for c in text.excluded_languages if c not in query.languages),
            )
        if query.year_min is not None or query.year_max is not None:  # the explicit range replaces the text's
            changes.update(year_min=query.year_min, year_max=query.year_max)
        if query.max_runtime is not None:
            changes.update(runtime_min=None, runtime_max=query.max_runtime)
        example_rows = self._rows("example_movie_ids", query.example_movie_ids)
        excluded_rows = self._rows("excluded_movie_ids", query.excluded_movie_ids)
        if example_rows or excluded_rows:
            changes.update(
                examples=tuple(dict.fromkeys((*text.examples, *example_rows))),
                excluded_movies=tuple(dict.fromkeys((*text.excluded_movies, *excluded_rows))),
            )
        return with_example_genres(replace(text, **changes) if changes else text, self.index.movies)

    def _genres(self, field_name: str, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [g for g in names if g.lower() not in self._genre_names]
        if unknown:
            raise InvalidArgument(
                f"{field_name}: unknown genre {', '.join(map(repr, unknown))}; "
                f"the catalogue's genres are {', '.join(self.understander.genres)}"
            )
        return tuple(dict.fromkeys(self._genre_names[g.lower()] for g in names))

    def _languages(self, codes: tuple[str, ...]) -> None:
        known = set(self.understander.languages_present)
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise InvalidArgument(
                f"languages: no catalogue movie is in {', '.join(unknown)}; "
                f"the catalogue has {', '.join(sorted(known))}"
            )

    def _rows(self, field_name: str, movie_ids: tuple[int, ...]) -> tuple[int, ...]:
        unknown = [m for m in movie_ids if m not in self.index.movie_row]
        if unknown:  # a few named, so that the message stays readable (and fits in gRPC's metadata)
            named = ", ".join(map(str, unknown[:MAX_NAMED]))
            more = f" and {len(unknown) - MAX_NAMED} more" if len(unknown) > MAX_NAMED else ""
            raise InvalidArgument(f"{field_name}: movie {named}{more} not in the catalogue")
        return tuple(self.index.movie_row[m] for m in movie_ids)

    # -- ranking ------------------------------------------------------------------------------
    def recommend_batch(
        self, queries: list[RecommendQuery], threads: int | None = None, understood: list[Understood] | None = None
    ) -> list[RecommendResult]:
        """Answer several queries with one encoder forward (`threads` torch threads) and one ranking pass.

        understand -> embed the moods -> constraints -> rank -> results with what was understood.
        A group's members are ranked as rows of the same batch and aggregated (movierec.group).
        Raises NotFound for an unknown user or group member and InvalidArgument for unknown constraint values
        (checked before any work is done). `understood`: the queries already understood.
        """
        understood = understood or [self.understand(q) for q in queries]
        requests = self.rank_requests(queries, understood, threads)
        ranked_all, unmet_all = self._filled(queries, understood, self.ranker.rank(requests), threads)
        results = []
        for q, u, request, ranked, unmet in zip(queries, understood, requests, ranked_all, unmet_all):
            scores = ranked.scores.tolist()  # Python floats once per array, not per element
            parts = {name: v.tolist() for name, v in ranked.signals.items()}
            fit = ranked.member_fit.tolist() if ranked.member_fit is not None else None
            rows = ranked.rows.tolist()
            examples = [self.index.movies[r] for r in u.examples]
            reasoner = Reasoner(u, examples, for_user=bool(q.members))
            # A single user's reasons name their favourites nearest each movie (one small product per request).
            user = request.user if isinstance(request, RankRequest) else None
            near = (
                nearest_favourites(self.index.movie_vectors, rows, user.rated_rows, user.rated_values)
                if user is not None
                else [()] * len(rows)
            )
            movies = []
            for j, row in enumerate(rows):
                movie, signals = self.index.movies[row], {name: values[j] for name, values in parts.items()}
                member_fit = dict(zip(q.members, fit[j])) if fit is not None else {}
                movies.append(
                    Recommendation(
                        movie=movie,
                        score=scores[j],
                        signals=signals,
                        member_fit=member_fit,
                        unmet=unmet[j],
                        reason=reasoner(movie, signals, member_fit, unmet[j], [self.index.movies[r] for r in near[j]]),
                    )
                )
            results.append(
                RecommendResult(
                    movies=movies,
                    index_version=self.version,
                    understood=u,
                    examples=examples,
                    excluded=[self.index.movies[r] for r in u.excluded_movies],
                    named=[self.index.movies[r] for r, _, _ in u.named],
                    group_strategy=request.strategy if isinstance(request, GroupRankRequest) else "",
                )
            )
        return results

    def _filled(
        self, queries: list[RecommendQuery], understood: list[Understood], ranked: list[Ranked], threads: int | None
    ) -> tuple[list[Ranked], list[list[tuple[str, ...]]]]:
        """A list shorter than asked continues with movies that meet all but the least certain constraints,
        given up one stage at a time: in a conversation, the people named before its last seeker turn (a
        fresher wish outweighs a name said in passing); the genres the text asked for ("a Korean thriller":
        more Korean films); then bounds read from vague words ("a classic Tom Hanks film": his later films;
        "about an hour": a little longer).
        Explicit request fields, languages, the people of a single request or of the last turn, the
        audience and exclusions always hold. Returns the lists and, per list, what each of its movies does not meet."""
        out = list(ranked)
        unmet: list[list[tuple[str, ...]]] = [[()] * len(r.rows) for r in ranked]
        current = list(understood)
        given_up: list[tuple[str, ...]] = [()] * len(queries)
        for relax in (_without_earlier_people, _without_genre_wish, _without_vague_bounds):
            stage = []
            for i, q in enumerate(queries):
                if len(out[i].rows) < q.limit and (step := relax(current[i], q)) is not None:
                    current[i], what = step
                    given_up[i] = (*given_up[i], *what)
                    stage.append(i)
            if not stage:
                continue
            relaxed = [
                replace(
                    current[i],
                    excluded_movies=tuple(dict.fromkeys((*current[i].excluded_movies, *out[i].rows.tolist()))),
                )
                for i in stage
            ]
            more = self.ranker.rank(
                self.rank_requests(
                    [replace(queries[i], limit=queries[i].limit - len(out[i].rows)) for i in stage], relaxed, threads
                )
            )
            for i, extra in zip(stage, more):
                out[i] = out[i].followed_by(extra)
                unmet[i] += [given_up[i]] * len(extra.rows)
        return out, unmet

    def rank_requests(
        self, queries: list[RecommendQuery], understood: list[Understood], threads: int | None = None
    ) -> list[RankRequest | GroupRankRequest]:
        """The queries in the ranking's terms: moods embedded (one encoder forward), profiles looked up,
        constraints as masks; a group's query becomes one request per member (movierec.group)."""
        for q in queries:
            self.check_users(q)
        profiles = [[self.profile(m) for m in q.members] for q in queries]
        moods = [u.mood for u in understood if u.mood]
        vectors = iter(
            self.encoder.encode(moods, threads=threads) if moods else np.zeros((0, self.index.dimensions), np.float32)
        )
        requests: list[RankRequest | GroupRankRequest] = []
        config = self.ranker.config
        for q, u, members in zip(queries, understood, profiles):
            examples = np.array(u.examples, dtype=np.int64)
            vector = next(vectors) if u.mood else None
            if len(examples):  # the query moves towards the movies named as examples
                centroid = self.index.movie_vectors[examples].mean(axis=0)
                vector = centroid if vector is None else vector + centroid
                vector = (vector / max(float(np.linalg.norm(vector)), 1e-9)).astype(np.float32)
            if u.disliked and vector is not None and config.negative_example_weight > 0:  # and away from disliked ones
                disliked = self.index.movie_vectors[list(u.disliked)].mean(axis=0)
                vector = vector - config.negative_example_weight * disliked
                vector = (vector / max(float(np.linalg.norm(vector)), 1e-9)).astype(np.float32)
            named = () if q.include_rated else (*u.examples, *(row for row, _, _ in u.named))
            allowed = self.facets.allowed(u, exclude_rows=named)
            # A member's marks bind the whole list (most users have none: nothing is built for them).
            marked = [
                rows
                for p in members
                if p is not None
                for rows in (p.unwanted_rows, () if q.include_rated else p.seen_rows)
                if len(rows)
            ]
            if marked:
                allowed = np.ones(len(self.index.movies), bool) if allowed is None else allowed.copy()
                for rows in marked:
                    allowed[rows] = False
            if len(members) < 2:
                requests.append(
                    RankRequest(
                        prompt=u.mood,
                        prompt_vector=vector,
                        user=members[0] if members else None,
                        limit=q.limit,
                        include_rated=q.include_rated,
                        allowed=allowed,
                        examples=examples,
                        conversation=bool(q.conversation),
                    )
                )
                continue
            if not q.include_rated:  # what any member has rated is left out for all of them
                allowed = np.ones(len(self.index.movies), bool) if allowed is None else allowed.copy()
                for profile in members:
                    allowed[profile.rated_rows] = False  # type: ignore[union-attr]
            requests.append(
                GroupRankRequest(
                    members=tuple(
                        RankRequest(
                            prompt=u.mood,
                            prompt_vector=vector,
                            user=profile,
                            limit=q.limit,
                            include_rated=q.include_rated,
                            allowed=allowed,
                            examples=examples,
                            conversation=bool(q.conversation),
                        )
                        for profile in members
                    ),
                    limit=q.limit,
                    strategy=q.group_strategy or config.group_strategy,
                    misery_threshold=config.group_misery_threshold,
                    fair_depth=config.group_fair_depth,
                    pleasure_weight=config.group_pleasure_weight,
                )
            )
        return requests
