"""Every recommender turn of a ReDial conversation as a case, movies named earlier left out (dedup).

The protocol of Kostric & Balog (SIGIR 2026) and He et al. (CIKM 2023): each recommender message
that names movies is a case. Its context is the whole conversation before it (every earlier message,
seeker's and recommender's, with its role; each `@<id>` written out as "Title (year)"); its targets
are the movies it names that nobody named earlier in the conversation, mapped to the catalogue by
title and year within one year (`conversations.TitleMapper`). A ranker answers the context alone;
movies already named are removed from its list before the cut at k (repeating them earns nothing),
and Recall@k is averaged over (turn, target) pairs. ReDial: Li et al. 2018, CC BY 4.0.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from movierec.domain import RECOMMENDER, SEEKER, Movie, Turn
from movierec.evaluation import conversations
from movierec.evaluation.conversations import MENTION, MentionRows, read_conversations
from movierec.evaluation.rankers import EaseReference, EvalRanker, EvalRequest

KS = (1, 10, 50)
# How many cases one `rank` call gets; the rankers batch further inside.
CASES_PER_CALL = 256
# The pasted-prompt baseline keeps the end of the conversation: the newest turns say most about
# what the recommender answers next, and the prompt encoder reads a bounded length anyway.
PASTED_CHARS = 1000

# The halves' names in the report: weights may be chosen on the even ids; the odd ids are only measured.
HALVES = ("even ids (tuning)", "odd ids (test)")
TEST_HALF = HALVES[1]

SKIP_ONLY_EARLIER = "names only movies named earlier"
SKIP_NOT_IN_CATALOGUE = "its new movies are not in the catalogue"
SKIP_NO_CONTEXT = "nothing was said before it"
SKIP_THIRD_SPEAKER = "message by neither worker (left out of the context)"


@dataclass(frozen=True)
class TurnCase:
    """One recommender message that names a new movie: what was said before it and what it named.

    context: the earlier messages, oldest first (SEEKER = ReDial's initiator, RECOMMENDER = its
    respondent; user_id None); targets: catalogue rows this message names that nobody named earlier;
    named: catalogue rows named anywhere in the context, each once, in order of first mention."""

    conversation_id: int
    message_id: int
    context: tuple[Turn, ...]
    targets: frozenset[int]
    named: tuple[int, ...]


@dataclass
class TurnCases:
    cases: list[TurnCase] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # recommender messages naming movies, by reason
    mapped_titles: int = 0  # distinct ReDial movie ids whose title the catalogue has
    unmapped_titles: int = 0  # and whose title it has not

    @property
    def pairs(self) -> int:
        """(turn, target) pairs: what Recall@k averages over."""
        return sum(len(c.targets) for c in self.cases)


def written_out(text: str, mentions: dict[str, str]) -> str:
    """A ReDial message with each `@<id>` written as its "Title (year)", all whitespace collapsed."""
    return " ".join(conversations.written_out(text, mentions).split())


def load_turn_cases(path: Path, movies: list[Movie]) -> TurnCases:
    """Every recommender message of the ReDial file at `path` that names a movie nobody named before
    it and the catalogue `movies` has, as a case (rows index `movies`); the others counted by reason."""
    out = TurnCases()
    rows_of = MentionRows(movies)
    for conversation in read_conversations(path):
        mentions: dict[str, str] = conversation.get("movieMentions") or {}
        rows_of.add(mentions)
        roles = {conversation["initiatorWorkerId"]: SEEKER, conversation["respondentWorkerId"]: RECOMMENDER}
        context: list[Turn] = []
        named: list[int] = []  # catalogue rows named so far, repeats included
        named_ids: set[str] = set()  # ReDial ids named so far, the catalogue's or not
        for message in conversation["messages"]:
            ids = MENTION.findall(message["text"])
            rows = [r for r in (rows_of.get(i) for i in ids) if r is not None]
            role = roles.get(message["senderWorkerId"])
            if role == RECOMMENDER and ids:
                targets = frozenset(rows) - set(named)
                if not targets:
                    new_elsewhere = any(rows_of.get(i) is None and i not in named_ids for i in ids)
                    out.skipped[SKIP_NOT_IN_CATALOGUE if new_elsewhere else SKIP_ONLY_EARLIER] += 1
                elif not context:
                    out.skipped[SKIP_NO_CONTEXT] += 1
                else:
                    out.cases.append(
                        TurnCase(
                            int(conversation["conversationId"]),
                            int(message.get("messageId", -1)),
                            tuple(context),
                            targets,
                            tuple(dict.fromkeys(named)),
                        )
                    )
            if role is None:
                out.skipped[SKIP_THIRD_SPEAKER] += 1
                continue
            text = written_out(message["text"], mentions)
            if text:
                context.append(Turn(role, text))
            named += rows
            named_ids.update(ids)
    out.mapped_titles, out.unmapped_titles = rows_of.mapped, rows_of.unmapped
    return out


def halves(cases: TurnCases) -> tuple[TurnCases, TurnCases]:
    """(tuning, test): the cases of conversations with even and with odd ReDial ids (the split reads
    only the id, as `conversations.halves` does). Skip counts stay with the whole set."""
    parts = (TurnCases(), TurnCases())
    for case in cases.cases:
        parts[case.conversation_id % 2].cases.append(case)
    return parts


def request(case: TurnCase) -> EvalRequest:
    """What a ranker is asked: the context alone, anonymously."""
    return EvalRequest(prompt="", user_id=None, conversation=case.context)


def rank_cases(ranker: EvalRanker, cases: Sequence[TurnCase], depth: int) -> list[list[int]]:
    """Each case's ranked rows, at least `depth` of them left after the named rows are removed: the
    ranker is asked for depth + len(case.named), cases with the same limit in one call."""
    by_limit: dict[int, list[int]] = {}
    for i, case in enumerate(cases):
        by_limit.setdefault(depth + len(case.named), []).append(i)
    ranked: list[list[int]] = [[] for _ in cases]
    for limit, members in sorted(by_limit.items()):
        for start in range(0, len(members), CASES_PER_CALL):
            chunk = members[start : start + CASES_PER_CALL]
            for i, rows in zip(chunk, ranker.rank([request(cases[i]) for i in chunk], limit)):
                ranked[i] = list(rows)
    return ranked


def score(ranker: EvalRanker, cases: Sequence[TurnCase], ks: tuple[int, ...] = KS) -> dict[str, float]:
    """Recall@k for each k in `ks` over (turn, target) pairs, each list with the case's named rows
    removed before the cut; and how many cases and pairs were asked."""
    hits = dict.fromkeys(ks, 0)
    pairs = 0
    for case, rows in zip(cases, rank_cases(ranker, cases, max(ks))):
        named = set(case.named)
        kept = [r for r in rows if r not in named]
        for target in case.targets:
            pairs += 1
            for k in ks:
                hits[k] += target in kept[:k]
    out: dict[str, float] = {f"Recall@{k}": hits[k] / pairs if pairs else 0.0 for k in ks}
    return out | {"cases": len(cases), "pairs": pairs}


# -- reference rankers adapted to conversations ------------------------------------------------------
def pasted(context: Sequence[Turn], chars: int = PASTED_CHARS) -> str:
    """The conversation as one prompt: its texts joined with spaces, the last `chars` characters."""
    return " ".join(t.text for t in context)[-chars:]


class PastedConversation:
    """A ranker (the service) asked with the conversation pasted into the prompt and no `conversation`:
    what a client of a prompt-only service would send."""

    def __init__(
        self, service: EvalRanker, name: str = "service, conversation pasted as the prompt", chars: int = PASTED_CHARS
    ):
        self.service = service
        self.name = name
        self.chars = chars

    def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
        return self.service.rank([EvalRequest(pasted(r.conversation, self.chars), r.user_id) for r in requests], limit)


def named_by_context(cases: Sequence[TurnCase]) -> dict[tuple[Turn, ...], tuple[int, ...]]:
    """Context -> the catalogue rows it names: what an entity linker that never errs would read from it."""
    return {case.context: case.named for case in cases}


class NamedEase:
    """EASE of every movie named so far: the sum of EASE's rows (`EaseReference.b`) of the movies the
    context names, ties and contexts naming no rated movie falling back to popularity (ratings in the
    training split, as the `popularity` reference). The named movies come from `named`, context ->
    rows (`named_by_context`): ReDial marks them, so this reference links entities perfectly."""

    name = "EASE of named movies"

    def __init__(self, ease: EaseReference, named: dict[tuple[Turn, ...], tuple[int, ...]]):
        self.b = ease.b  # float32 (a, a) over ease.active
        self.active = ease.active
        self.position = np.full(ease.x.shape[1], -1, dtype=np.int64)
        self.position[self.active] = np.arange(len(self.active))
        self.popularity = ease.x.sum(axis=0).astype(np.float64)  # (n_movies,)
        self.named = named

    def scores(self, rows: Sequence[int]) -> np.ndarray:
        """float64 (n_movies,): the summed EASE rows of `rows` (0 for movies nobody rated)."""
        out = np.zeros(len(self.position), dtype=np.float64)
        positions = self.position[np.asarray(rows, dtype=np.int64)]
        positions = positions[positions >= 0]
        if len(positions):
            out[self.active] = self.b[positions].sum(axis=0, dtype=np.float64)
        return out

    def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
        out = []
        for r in requests:
            order = np.lexsort((-self.popularity, -self.scores(self.named[r.conversation])))
            out.append(order[:limit].tolist())
        return out


class VoteCount:
    """TMDB vote count, most first: the catalogue's own popularity, the same list for every context."""

    name = "popularity (TMDB vote count)"

    def __init__(self, movies: list[Movie]):
        self.order = np.argsort(-np.array([m.vote_count for m in movies], dtype=np.float64), kind="stable")

    def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
        top = self.order[:limit].tolist()
        return [list(top) for _ in requests]


# -- the task in `make eval` ---------------------------------------------------------------------------
def evaluate(cases: TurnCases, rankers: dict[str, EvalRanker], progress: bool = False) -> dict[str, Any]:
    """Every ranker on both halves: the counts, the skips by reason, and per half (HALVES) per ranker
    `score`'s Recall@k, cases and pairs; `seconds`: each ranker's time over both halves."""
    from tqdm import tqdm

    parts = dict(zip(HALVES, halves(cases)))
    scores: dict[str, dict[str, dict[str, float]]] = {half: {} for half in HALVES}
    seconds: dict[str, float] = {}
    for name, ranker in tqdm(rankers.items(), desc="conversations, every recommender turn", disable=not progress):
        started = time.monotonic()
        for half, part in parts.items():
            scores[half][name] = score(ranker, part.cases)
        seconds[name] = time.monotonic() - started
    return {
        "cases": len(cases.cases),
        "pairs": cases.pairs,
        "skipped": dict(cases.skipped),
        "titles mapped": cases.mapped_titles,
        "titles not in the catalogue": cases.unmapped_titles,
        "scores": scores,
        "seconds": seconds,
    }


def plot(entry: dict[str, Any], path: Path, highlight: str, bound: float | None = None, dpi: int = 110) -> None:
    """One panel per half: each ranker's Recall@k, one bar per k (darker for deeper cuts), `highlight` in
    reds; rankers in the same order in every panel (by the last half's Recall@10). `bound`: a dashed
    line where the target puts Recall@10 on the test half."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    halves_ = list(entry["scores"])
    last = entry["scores"][halves_[-1]]
    names = sorted(last, key=lambda n: last[n]["Recall@10"])
    metrics = [m for m in next(iter(last.values())) if m.startswith("Recall@")]
    greys = plt.get_cmap("Greys")(np.linspace(0.35, 0.85, len(metrics)))
    reds = plt.get_cmap("Reds")(np.linspace(0.35, 0.85, len(metrics)))
    height = 0.8 / len(metrics)
    fig, axes = plt.subplots(
        1, len(halves_), figsize=(6.5 * len(halves_), 0.9 + 0.75 * len(names)), squeeze=False, sharey=True
    )
    for ax, half in zip(axes[0], halves_):
        by_ranker = entry["scores"][half]
        for j, metric in enumerate(metrics):
            ys = [i + ((len(metrics) - 1) / 2 - j) * height for i in range(len(names))]  # the first k on top
            values = [by_ranker[n][metric] for n in names]
            ax.barh(ys, values, height, color=[reds[j] if n == highlight else greys[j] for n in names], label=metric)
            for y, v in zip(ys, values):
                ax.text(v, y, f" {v:.3f}", va="center", fontsize=6)
        if bound is not None and half == TEST_HALF:
            ax.axvline(bound, color="black", linewidth=0.8, linestyle="--")
        counts = next(iter(by_ranker.values()))
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xlim(0, 1.2 * max(by_ranker[n][m] for n in names for m in metrics) or 1)
        ax.set_title(
            f"{half}: {int(counts['cases'])} recommender turns, {int(counts['pairs'])} (turn, target) pairs", fontsize=9
        )
        ax.legend(fontsize=7, loc="lower right")
        ax.tick_params(labelsize=8)
    fig.suptitle("ReDial, every recommender turn, movies named earlier left out (dedup): Recall@k", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
