"""The development runs behind the conversation weights, on an index built from all ratings (not `make eval`'s
test-split index): every-recommender-turn Recall@k (`conversation_turns`) of the service given the
conversation, on the even ids (tuning) and the odd ids (test), with a bootstrap interval over conversations;
the weight grid on the even ids; and the service with every named movie's verdict taken from the seekers'
questionnaire instead of read (an oracle), on the even ids.

    python -m movierec.evaluation.conversation_development --index-dir var/seed-index [--grid] [--oracle]
"""

from __future__ import annotations

import argparse
import itertools
import random
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from movierec.artifact import load_artifact
from movierec.domain import RecommendQuery
from movierec.embedding import settings_encoder
from movierec.evaluation import conversation_turns as ct
from movierec.evaluation.conversation_verdicts import DEV, questionnaire_verdict
from movierec.evaluation.conversations import TitleMapper, read_conversations
from movierec.evaluation.rankers import MemoEncoder, ProductionRanker
from movierec.recommender import Recommender
from movierec.settings import Settings
from movierec.understanding import Understood

GRID = {
    "conversation_weight_prompt": (0.5, 1.0, 1.5),
    "conversation_weight_popularity": (2.0, 3.0, 4.0),
    "anonymous_weight_collaborative": (0.5, 1.0),
    "anonymous_weight_genre_fit": (0.5, 1.0),
}


def recall_with_interval(
    ranker: ProductionRanker, cases: Sequence[ct.TurnCase], k: int = 10, draws: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """Recall@k over (turn, target) pairs and its 95% interval, resampling whole conversations."""
    hits: dict[int, list[int]] = {}
    for case, rows in zip(cases, ct.rank_cases(ranker, cases, k)):
        named = set(case.named)
        kept = [r for r in rows if r not in named][:k]
        entry = hits.setdefault(case.conversation_id, [0, 0])
        entry[0] += sum(t in kept for t in case.targets)
        entry[1] += len(case.targets)
    per_conversation = list(hits.values())
    rng = random.Random(seed)
    boots = []
    for _ in range(draws):
        drawn = [per_conversation[rng.randrange(len(per_conversation))] for _ in per_conversation]
        boots.append(sum(h for h, _ in drawn) / sum(n for _, n in drawn))
    point = sum(h for h, _ in per_conversation) / sum(n for _, n in per_conversation)
    return point, float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def questionnaire_verdicts(path: Path, recommender: Recommender) -> dict[int, dict[int, str]]:
    """conversation id -> catalogue row -> "liked" / "disliked" / "seen", as the seeker answered."""
    mapper = TitleMapper(list(recommender.index.movies))
    out: dict[int, dict[int, str]] = {}
    for c in read_conversations(path):
        mentions = c.get("movieMentions") or {}
        verdicts = out.setdefault(int(c["conversationId"]), {})
        for redial_id, answers in (c.get("initiatorQuestions") or {}).items():
            verdict = questionnaire_verdict(answers)
            row = mapper.row(mentions.get(redial_id) or "") if verdict is not None else None
            if row is not None and verdict is not None:
                verdicts[row] = verdict
    return out


class OracleVerdicts(Recommender):
    """The service with each named movie's verdict replaced by the questionnaire's (when it has one)."""

    conversation_of: dict[Any, int]
    verdicts: dict[int, dict[int, str]]

    def understand(self, query: RecommendQuery) -> Understood:
        u = super().understand(query)
        truth = self.verdicts.get(self.conversation_of.get(query.conversation, -1), {})
        named = tuple((row, truth.get(row, reading), turn) for row, reading, turn in u.named)
        disliked = tuple(row for row, reading, _ in named if reading == "disliked")
        return replace(
            u,
            named=named,
            examples=tuple(row for row, reading, _ in named if reading == "liked"),
            disliked=disliked,
            excluded_movies=disliked,
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])  # the first paragraph, whole
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--conversations", type=Path, default=DEV)
    parser.add_argument("--grid", action="store_true", help="the weight grid on the even ids")
    parser.add_argument("--oracle", action="store_true", help="verdicts from the questionnaire, even ids")
    args = parser.parse_args(argv)
    settings = Settings()
    index = load_artifact(args.index_dir)
    config = settings.ranking
    recommender = Recommender(index, MemoEncoder(settings_encoder(settings, args.index_dir)), config)
    even, odd = ct.halves(ct.load_turn_cases(args.conversations, index.movies))
    for name, half in (("even ids (tuning)", even), ("odd ids (test)", odd)):
        point, low, high = recall_with_interval(ProductionRanker("default", recommender), half.cases)
        print(f"{name}: Recall@10 {point:.3f} (95% interval over conversations {low:.3f}-{high:.3f})")
    if args.grid:
        for values in itertools.product(*GRID.values()):
            changes: dict[str, Any] = dict(zip(GRID, values))
            scores = ct.score(ProductionRanker("grid", recommender, settings.replace(**changes).ranking), even.cases)
            print(
                "even ids",
                " ".join(f"{k}={v:g}" for k, v in changes.items()),
                f"Recall@10 {scores['Recall@10']:.3f} Recall@50 {scores['Recall@50']:.3f}",
            )
    if args.oracle:
        oracle = object.__new__(OracleVerdicts)
        oracle.__dict__.update(recommender.__dict__)
        oracle.conversation_of = {case.context: case.conversation_id for case in even.cases}
        oracle.verdicts = questionnaire_verdicts(args.conversations, recommender)
        scores = ct.score(ProductionRanker("oracle", oracle), even.cases)
        print(
            f"even ids, verdicts from the questionnaire: Recall@10 {scores['Recall@10']:.3f} "
            f"Recall@50 {scores['Recall@50']:.3f}"
        )


if __name__ == "__main__":
    main()
