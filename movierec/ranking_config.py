"""The ranking's knobs (RankingConfig), read from the settings once: what every stage is configured by."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from movierec import group
from movierec.settings import Settings
from movierec.signals import SIGNALS

RANKERS = ("learned", "weighted_sum")
_DEFAULTS = {name: field.default for name, field in Settings.model_fields.items()}


@dataclass(frozen=True)
class RankingConfig:
    """The ranking's knobs; the defaults are the settings' (chosen on validation by `make eval`)."""

    candidate_movies: int = _DEFAULTS["candidate_movies"]
    match_candidates: int = _DEFAULTS["match_candidates"]
    collaborative_candidates: int = _DEFAULTS["collaborative_candidates"]
    similar_users: int = _DEFAULTS["similar_users"]
    weight_prompt: float = _DEFAULTS["weight_prompt"]
    weight_match: float = _DEFAULTS["weight_match"]
    weight_genre_fit: float = _DEFAULTS["weight_genre_fit"]
    weight_collaborative: float = _DEFAULTS["weight_collaborative"]
    weight_community: float = _DEFAULTS["weight_community"]
    weight_taste: float = _DEFAULTS["weight_taste"]
    weight_quality: float = _DEFAULTS["weight_quality"]
    weight_popularity: float = _DEFAULTS["weight_popularity"]
    anonymous_weight_prompt: float = _DEFAULTS["anonymous_weight_prompt"]
    anonymous_weight_match: float = _DEFAULTS["anonymous_weight_match"]
    anonymous_weight_genre_fit: float = _DEFAULTS["anonymous_weight_genre_fit"]
    anonymous_weight_collaborative: float = _DEFAULTS["anonymous_weight_collaborative"]
    anonymous_weight_community: float = _DEFAULTS["anonymous_weight_community"]
    anonymous_weight_quality: float = _DEFAULTS["anonymous_weight_quality"]
    anonymous_weight_popularity: float = _DEFAULTS["anonymous_weight_popularity"]
    conversation_weight_prompt: float = _DEFAULTS["conversation_weight_prompt"]
    conversation_weight_popularity: float = _DEFAULTS["conversation_weight_popularity"]
    # "standard", "percentile" or "z" (movierec.combine).
    calibration: str = "standard"
    # "learned" (the index's MLP re-scores the weighted sum's shortlist where it applies) or "weighted_sum".
    ranker: str = _DEFAULTS["ranker"]
    learned_candidates: int = _DEFAULTS["learned_candidates"]
    # A group's aggregation (movierec.group), when its request does not name one.
    group_strategy: str = _DEFAULTS["group_strategy"]
    group_misery_threshold: float = _DEFAULTS["group_misery_threshold"]
    group_fair_depth: int = _DEFAULTS["group_fair_depth"]
    group_pleasure_weight: float = _DEFAULTS["group_pleasure_weight"]
    negative_example_weight: float = _DEFAULTS["negative_example_weight"]
    not_interested_weight: float = _DEFAULTS["not_interested_weight"]
    conversation_mood_words: int = _DEFAULTS["conversation_mood_words"]

    def __post_init__(self) -> None:
        if self.group_strategy not in group.STRATEGY_NAMES:
            raise ValueError(
                f"setting group_strategy: {self.group_strategy!r} is not one of {', '.join(group.STRATEGY_NAMES)}"
            )
        if not 0.0 <= self.group_misery_threshold < 1.0:
            raise ValueError(f"setting group_misery_threshold: must be in [0, 1), got {self.group_misery_threshold}")
        if self.group_pleasure_weight < 0:
            raise ValueError(f"setting group_pleasure_weight: must be at least 0, got {self.group_pleasure_weight}")
        if self.group_fair_depth < 1:
            raise ValueError(f"setting group_fair_depth: must be at least 1, got {self.group_fair_depth}")
        if self.ranker not in RANKERS:
            raise ValueError(f"setting ranker: {self.ranker!r} is not one of {', '.join(RANKERS)}")
        if self.learned_candidates < 1:
            raise ValueError(f"setting learned_candidates: must be at least 1, got {self.learned_candidates}")

    def weight(self, signal: str, anonymous: bool = False, conversation: bool = False) -> float:
        """A signal's weight for requests with a user, or for anonymous ones (which have no taste), and
        for anonymous conversations (their own weight where they have one, else the anonymous one)."""
        if anonymous:
            anonymous_weight = float(getattr(self, f"anonymous_weight_{signal}", 0.0))
            return (
                float(getattr(self, f"conversation_weight_{signal}", anonymous_weight))
                if conversation
                else anonymous_weight
            )
        return float(getattr(self, f"weight_{signal}"))

    def weights(self, anonymous: bool = False) -> dict[str, float]:
        return {s: self.weight(s, anonymous) for s in SIGNALS}

    def with_weights(self, **weights: float) -> RankingConfig:
        """This config with only the named signals on (others weight 0), for every request: for ablations."""
        return self.with_user_weights(**weights).with_anonymous_weights(**weights)

    def with_user_weights(self, **weights: float) -> RankingConfig:
        """Only the weights for requests with a user replaced (unnamed signals 0); a plain weighted sum."""
        changes: dict[str, Any] = {f"weight_{s}": float(weights.get(s, 0.0)) for s in SIGNALS}
        return replace(self, ranker="weighted_sum", **changes)

    def with_anonymous_weights(self, **weights: float) -> RankingConfig:
        """Only the weights for anonymous requests (conversations too) replaced (unnamed signals 0); a plain
        weighted sum."""
        names = {f.name for f in fields(self)}
        changes: dict[str, Any] = {
            f"{kind}_weight_{s}": float(weights.get(s, 0.0))
            for s in SIGNALS
            for kind in ("anonymous", "conversation")
            if f"{kind}_weight_{s}" in names
        }
        return replace(self, ranker="weighted_sum", **changes)
