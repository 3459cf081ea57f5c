"""Domain types shared by the indexer, the ranking and the server (no protobuf here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # understanding imports this module
    from movierec.understanding import Understood


@dataclass(frozen=True)
class Movie:
    """One catalogue entry. `movie_id` is the TMDB id; `year` and `runtime` (minutes) are 0 when unknown;
    `language` is the original language's ISO 639-1 code (TMDB's), "" when unknown; `cast` in billing order."""

    movie_id: int
    title: str
    year: int
    genres: tuple[str, ...]
    vote_average: float = 0.0
    vote_count: int = 0
    popularity: float = 0.0
    keywords: tuple[str, ...] = ()
    runtime: int = 0
    language: str = ""
    directors: tuple[str, ...] = ()
    cast: tuple[str, ...] = ()
    overview: str = ""  # TMDB's; "" in an index built before it was kept
    tagline: str = ""


SEEKER, RECOMMENDER = "seeker", "recommender"


@dataclass(frozen=True)
class Turn:
    """One message of a conversation: who said it (SEEKER: the people choosing, RECOMMENDER: whoever
    suggests, this service or a person), the text, and the speaker's user id when they are a known
    user (a group member)."""

    role: str
    text: str
    user_id: int | None = None


@dataclass(frozen=True)
class RecommendQuery:
    """A validated recommendation request. The explicit constraints win over what the prompt says:
    genres, excluded_genres, languages (ISO 639-1) and each year bound or max_runtime replace the
    text's; example and excluded movie ids (TMDB ids) are added to the ones the text names."""

    prompt: str
    user_id: int | None
    limit: int
    include_rated: bool = False
    genres: tuple[str, ...] = ()
    excluded_genres: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    max_runtime: int | None = None
    languages: tuple[str, ...] = ()
    example_movie_ids: tuple[int, ...] = ()
    excluded_movie_ids: tuple[int, ...] = ()
    # A group (movierec.group): every member's user id, user_id first when given (two or more; a
    # group of one is a user_id request), and how their scores become one list ("": the setting's).
    group_user_ids: tuple[int, ...] = ()
    group_strategy: str = ""
    # The conversation so far, oldest first (movierec.conversation reads it); the prompt, when set, is one
    # more SEEKER turn at its end (`turns`).
    conversation: tuple[Turn, ...] = ()
    # Constraints to leave out of what was understood, in the words of Understood's constraint list.
    dropped: tuple[str, ...] = ()

    @property
    def turns(self) -> tuple[Turn, ...]:
        """The conversation with the prompt as its last SEEKER turn (by user_id, when set); () without one."""
        if not self.conversation:
            return ()
        return self.conversation + ((Turn(SEEKER, self.prompt, self.user_id),) if self.prompt.strip() else ())

    @property
    def members(self) -> tuple[int, ...]:
        """The users the list is for: user_id (if set) and the group's members, each once."""
        return tuple(dict.fromkeys(((self.user_id,) if self.user_id is not None else ()) + self.group_user_ids))

    @property
    def has_explicit_constraints(self) -> bool:
        return any(
            (
                self.genres,
                self.excluded_genres,
                self.year_min is not None,
                self.year_max is not None,
                self.max_runtime is not None,
                self.languages,
                self.example_movie_ids,
                self.excluded_movie_ids,
            )
        )


@dataclass(frozen=True)
class Recommendation:
    """One ranked movie and the weighted parts of its score (they sum to `score`). For a group: `score`
    is the group strategy's, `signals` the members' mean parts, `member_fit` user id -> that member's
    fit (movierec.group: 1 for their best candidate, 0.5 for the middle one)."""

    movie: Movie
    score: float
    signals: dict[str, float] = field(default_factory=dict)
    member_fit: dict[int, float] = field(default_factory=dict)
    # What of the request this movie does not meet ("genre", "years", "runtime"): a list that the
    # constraints left short continues with such movies, after every movie that meets them all.
    unmet: tuple[str, ...] = ()
    # Why this movie, in words (movierec.reasons): "Because you liked Heat", "A 1990s heist film, as asked".
    reason: str = ""


@dataclass(frozen=True)
class RecommendResult:
    """A ranked list and what the request was understood to ask (movierec.understanding.Understood;
    its movie references as Movie objects in `examples` and `excluded`)."""

    movies: list[Recommendation]
    index_version: str
    understood: Understood | None = None
    examples: list[Movie] = field(default_factory=list)
    excluded: list[Movie] = field(default_factory=list)
    named: list[Movie] = field(default_factory=list)  # Understood.named's movies, in its order
    group_strategy: str = ""  # the strategy that made a group's list; "" for one user or none


@dataclass(frozen=True)
class SignalInfo:
    """A registered signal as a client sees it: its name, meaning and this server's weights."""

    name: str
    meaning: str
    weight: float
    anonymous_weight: float


@dataclass(frozen=True)
class IndexInfo:
    index_version: str
    model: str
    dimensions: int
    movies: int
    users: int
    ranker: str = "weighted sum"  # "learned", or "weighted sum (why)"
    prompt_encoder_backend: str = ""  # the backend this server embeds prompts with, as it runs here
    catalogue_encoder_backend: str = ""  # the backend the indexer embedded the catalogue with, as it ran there
    signals: tuple[SignalInfo, ...] = ()  # in the registry's order
