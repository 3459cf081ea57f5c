"""The every-recommender-turn task on synthetic ReDial-shaped conversations over a synthetic catalogue:
cases, dedup, halves, Recall@k against a brute-force reference, the references, and its report part."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from movierec.domain import RECOMMENDER, SEEKER, Movie, Turn
from movierec.evaluation.conversation_turns import (
    HALVES,
    PASTED_CHARS,
    SKIP_NO_CONTEXT,
    SKIP_NOT_IN_CATALOGUE,
    SKIP_ONLY_EARLIER,
    NamedEase,
    PastedConversation,
    TurnCase,
    TurnCases,
    VoteCount,
    evaluate,
    halves,
    load_turn_cases,
    named_by_context,
    plot,
    score,
)
from movierec.evaluation.harness import DEFAULT, TURNS_BOUND, targets, turn_targets
from movierec.evaluation.rankers import EaseReference, EvalRanker, EvalRequest, Popularity
from movierec.evaluation.report import TURNS_PLOT, markdown, turns_section

from synthetic import synthetic_artifact

N_MOVIES = 120
UNMAPPED = 15  # ReDial ids whose titles the catalogue does not have


def catalogue() -> list[Movie]:
    movies = [
        Movie(movie_id=1000 + i, title=f"Film {i}", year=1950 + i % 60, genres=("Drama",), vote_count=(i * 37) % 101)
        for i in range(N_MOVIES - 1)
    ]
    return movies + [Movie(movie_id=1000 + N_MOVIES, title="What Now?", year=2001, genres=("Comedy",))]


def redial_title(redial_id: int) -> str:
    """ReDial's "Title (year)" for an id: 500 + row for catalogue movies (some a year off, some with a
    doubled space or `%3F`), 900 + j for films the catalogue lacks."""
    if redial_id >= 900:
        return f"Nowhere Land {redial_id - 900} (1999)"
    row = redial_id - 500
    if row == N_MOVIES - 1:
        return "What Now%3F (2001)"
    year = 1950 + row % 60 + (1 if row % 3 == 0 else 0)  # within one year still maps
    return f"Film  {row} ({year})" if row % 4 == 0 else f"Film {row} ({year})"


def row_of(redial_id: int) -> int | None:
    return None if redial_id >= 900 else redial_id - 500


def written(redial_id: int) -> str:
    return " ".join(redial_title(redial_id).replace("%3F", "?").split())


@dataclass
class Truth:
    """What the generator put in: per conversation, its id and each message's (role, ReDial ids)."""

    conversation_id: int
    messages: list[tuple[str, list[int]]]


def generate(seed: int, conversations: int = 60) -> tuple[list[dict[str, Any]], list[Truth]]:
    rng = random.Random(seed)
    ids = rng.sample(range(20000, 30000), conversations)
    out, truths = [], []
    for n, conversation_id in enumerate(ids):
        seeker, recommender = 2 * n + 1, 2 * n + 2
        pool = rng.sample([500 + r for r in range(N_MOVIES)], 8) + rng.sample(range(900, 900 + UNMAPPED), 2)
        messages, truth = [], []
        for m in range(rng.randint(2, 12)):
            role = rng.choice((SEEKER, RECOMMENDER))
            named = [rng.choice(pool) for _ in range(rng.choice((0, 0, 1, 1, 2, 3)))]
            words = " ".join(rng.choice(("i", "liked", "try", "maybe", "great", "  so")) for _ in range(3))
            text = words + "".join(f" @{i} and" for i in named)
            messages.append(
                {"text": text, "senderWorkerId": seeker if role == SEEKER else recommender, "messageId": 100 * n + m}
            )
            truth.append((role, named))
        mentions = {str(i): redial_title(i) for _, named in truth for i in named}
        out.append(
            {
                "conversationId": str(conversation_id),
                "initiatorWorkerId": seeker,
                "respondentWorkerId": recommender,
                "movieMentions": mentions,
                "messages": messages,
            }
        )
        truths.append(Truth(conversation_id, truth))
    return out, truths


def write(path: Path, conversations: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in conversations))
    return path


def expected(truths: list[Truth]) -> list[tuple[int, tuple[str, ...], frozenset[int], tuple[int, ...]]]:
    """Brute force from what was generated: (conversation id, context roles, targets, named rows)."""
    out = []
    for truth in truths:
        for position, (role, named) in enumerate(truth.messages):
            earlier = [r for _, ids in truth.messages[:position] for r in map(row_of, ids) if r is not None]
            targets = frozenset(r for r in map(row_of, named) if r is not None) - set(earlier)
            if role == RECOMMENDER and targets and position > 0:
                roles = tuple(r for r, _ in truth.messages[:position])
                out.append((truth.conversation_id, roles, targets, tuple(dict.fromkeys(earlier))))
    return out


@pytest.fixture(scope="module")
def movies() -> list[Movie]:
    return catalogue()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, movies: list[Movie]) -> tuple[TurnCases, list[Truth]]:
    conversations, truths = generate(seed=7)
    return load_turn_cases(write(tmp_path_factory.mktemp("redial") / "dev.jsonl", conversations), movies), truths


def test_a_handwritten_conversation(tmp_path: Path, movies: list[Movie]) -> None:
    conversation = {
        "conversationId": "41",
        "initiatorWorkerId": 1,
        "respondentWorkerId": 2,
        "movieMentions": {
            "503": redial_title(503),
            "505": redial_title(505),
            "507": redial_title(507),
            "900": redial_title(900),
            str(500 + N_MOVIES - 1): redial_title(500 + N_MOVIES - 1),
        },
        "messages": [
            {"senderWorkerId": 2, "text": "hello, have you seen @505?", "messageId": 1},  # nothing before it
            {"senderWorkerId": 1, "text": "yes!  I loved   @503", "messageId": 2},
            {"senderWorkerId": 2, "text": "then @503 again, or @507", "messageId": 3},  # 503 named: 507 only
            {"senderWorkerId": 2, "text": "@505 is still good", "messageId": 4},  # named before: skipped
            {"senderWorkerId": 1, "text": "seen both", "messageId": 5},
            {"senderWorkerId": 2, "text": "what about @900", "messageId": 6},  # not in the catalogue: skipped
            {"senderWorkerId": 2, "text": f"or @{500 + N_MOVIES - 1}", "messageId": 7},
        ],
    }
    loaded = load_turn_cases(write(tmp_path / "dev.jsonl", [conversation]), movies)
    assert [(c.message_id, c.targets) for c in loaded.cases] == [(3, frozenset({7})), (7, frozenset({N_MOVIES - 1}))]
    first = loaded.cases[0]
    assert first.context == (
        Turn(RECOMMENDER, "hello, have you seen Film 5 (1955)?"),
        Turn(SEEKER, "yes! I loved Film 3 (1954)"),
    )
    assert first.named == (5, 3) and first.conversation_id == 41
    last = loaded.cases[1]
    assert [t.role for t in last.context] == [RECOMMENDER, SEEKER, RECOMMENDER, RECOMMENDER, SEEKER, RECOMMENDER]
    assert last.context[-1] == Turn(RECOMMENDER, "what about Nowhere Land 0 (1999)")
    assert last.named == (5, 3, 7)
    assert all(t.user_id is None for t in last.context)
    assert loaded.skipped == {SKIP_NO_CONTEXT: 1, SKIP_ONLY_EARLIER: 1, SKIP_NOT_IN_CATALOGUE: 1}
    assert (loaded.mapped_titles, loaded.unmapped_titles) == (4, 1)
    assert loaded.pairs == 2
    written_last = " ".join(t.text for t in loaded.cases[-1].context)
    assert "What Now?" not in written_last  # the case's own message is not in its context


def test_seeded_conversations_match_a_brute_force_reading(generated: tuple[TurnCases, list[Truth]]) -> None:
    loaded, truths = generated
    want = expected(truths)
    got = [(c.conversation_id, tuple(t.role for t in c.context), c.targets, c.named) for c in loaded.cases]
    assert got == want
    assert len(want) > 40 and any(c.named for c in loaded.cases) and any(len(c.targets) > 1 for c in loaded.cases)
    assert loaded.pairs == sum(len(t) for _, _, t, _ in want)
    assert named_by_context(loaded.cases) == {c.context: c.named for c in loaded.cases}
    assert len(named_by_context(loaded.cases)) == len(loaded.cases)  # each context is its own case
    by_id = {t.conversation_id: t for t in truths}
    for case in loaded.cases:
        truth = by_id[case.conversation_id]
        earlier = truth.messages[: len(case.context)]
        # dedup: nothing named anywhere earlier (by either speaker) is a target
        assert not case.targets & {row_of(i) for _, ids in earlier for i in ids}
        for turn, (_, ids) in zip(case.context, earlier):
            assert "@" not in turn.text and "  " not in turn.text and "%3F" not in turn.text
            assert all(written(i) in turn.text for i in ids)


def test_halves_split_by_conversation_id_parity(generated: tuple[TurnCases, list[Truth]]) -> None:
    loaded, _ = generated
    tuning, test = halves(loaded)
    assert tuning.cases and test.cases
    assert all(c.conversation_id % 2 == 0 for c in tuning.cases)
    assert all(c.conversation_id % 2 == 1 for c in test.cases)
    assert sorted(tuning.cases + test.cases, key=loaded.cases.index) == loaded.cases
    assert tuning.pairs + test.pairs == loaded.pairs


class SeededRanker:
    """A fixed random order of the whole catalogue per context; records the limit each context was asked with."""

    name = "seeded"

    def __init__(self, n_movies: int):
        self.n_movies = n_movies
        self.limits: dict[tuple[Turn, ...], int] = {}

    def order(self, context: tuple[Turn, ...]) -> list[int]:
        rows = list(range(self.n_movies))
        random.Random(" | ".join(f"{t.role}: {t.text}" for t in context)).shuffle(rows)
        return rows

    def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
        assert all(r.prompt == "" and r.user_id is None for r in requests)
        for r in requests:
            self.limits[r.conversation] = limit
        return [self.order(r.conversation)[:limit] for r in requests]


@pytest.mark.parametrize("ks", [(1, 10, 50), (2, 7, 30, 100)])
def test_recall_matches_a_brute_force_reference(generated: tuple[TurnCases, list[Truth]], ks: tuple[int, ...]) -> None:
    loaded, _ = generated
    ranker = SeededRanker(N_MOVIES)
    got = score(ranker, loaded.cases, ks)
    hits: dict[int, list[bool]] = {k: [] for k in ks}
    for case in loaded.cases:
        kept = [r for r in ranker.order(case.context) if r not in case.named]  # the whole list, then cut
        assert ranker.limits[case.context] >= max(ks) + len(case.named)
        for target in case.targets:
            for k in ks:
                hits[k].append(kept.index(target) < k)
    assert got["cases"] == len(loaded.cases) and got["pairs"] == len(hits[ks[0]]) == loaded.pairs
    for k in ks:
        assert got[f"Recall@{k}"] == pytest.approx(float(np.mean(hits[k])))
    assert got[f"Recall@{ks[0]}"] < got[f"Recall@{ks[-1]}"] < 1  # the cut matters at both ends


def test_named_rows_are_removed_before_the_cut(generated: tuple[TurnCases, list[Truth]]) -> None:
    loaded, _ = generated

    class NamedFirst:
        """The named movies first, then the targets, then the rest."""

        name = "named first"

        def __init__(self, cases: list[TurnCase]):
            self.by_context = {c.context: c for c in cases}

        def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
            out = []
            for r in requests:
                case = self.by_context[r.conversation]
                rest = [m for m in range(N_MOVIES) if m not in case.named and m not in case.targets]
                out.append([*case.named, *sorted(case.targets), *rest][:limit])
            return out

    got = score(NamedFirst(loaded.cases), loaded.cases, (1, 3, 50))
    # one target per turn at the top once the named rows are gone; turns have at most three targets
    assert max(len(c.targets) for c in loaded.cases) <= 3
    assert got["Recall@1"] == pytest.approx(len(loaded.cases) / loaded.pairs)
    assert got["Recall@3"] == got["Recall@50"] == 1.0
    assert any(len(c.named) >= 3 for c in loaded.cases)  # without the removal these would miss at 1 and 3


def test_the_pasted_prompt_is_the_end_of_the_conversation_and_no_conversation() -> None:
    class Recorder:
        name = "recorder"

        def __init__(self) -> None:
            self.asked: list[EvalRequest] = []

        def rank(self, requests: Sequence[EvalRequest], limit: int) -> list[list[int]]:
            self.asked += requests
            return [[0] for _ in requests]

    recorder = Recorder()
    context = tuple(Turn(SEEKER if i % 2 else RECOMMENDER, f"message {i} " + "x" * 90) for i in range(20))
    PastedConversation(recorder).rank([EvalRequest("", None, context)], 5)
    (asked,) = recorder.asked
    joined = " ".join(t.text for t in context)
    assert asked.conversation == () and asked.user_id is None
    assert len(asked.prompt) == PASTED_CHARS and joined.endswith(asked.prompt)
    short = (Turn(SEEKER, "a heist film"), Turn(RECOMMENDER, "Heat (1995)?"))
    PastedConversation(recorder).rank([EvalRequest("", None, short)], 5)
    assert recorder.asked[-1].prompt == "a heist film Heat (1995)?"


def test_ease_of_named_movies_is_ease_of_a_user_who_rated_them(tmp_path: Path) -> None:
    index = synthetic_artifact(tmp_path / "index", seed=3)
    ease = EaseReference(index, 50.0)
    user = 5
    rated = tuple(int(r) for r in index.rated(user))
    context = (Turn(SEEKER, "anything"),)
    named_ease = NamedEase(ease, {context: rated, (Turn(SEEKER, "nothing named"),): ()})
    ours = [r for r in named_ease.rank([EvalRequest("", None, context)], 10 + len(rated))[0] if r not in rated][:10]
    theirs = ease.rank([EvalRequest("", int(index.user_ids[user]))], 10)[0]
    assert ours == theirs
    # naming nothing: popularity (ratings), as the popularity reference
    (plain,) = named_ease.rank([EvalRequest("", None, (Turn(SEEKER, "nothing named"),))], 20)
    assert plain == Popularity(index).rank([EvalRequest("", None)], 20)[0]


def test_vote_count_orders_by_tmdb_votes(movies: list[Movie]) -> None:
    (rows,) = VoteCount(movies).rank([EvalRequest("", None, (Turn(SEEKER, "hi"),))], 30)
    votes = [movies[r].vote_count for r in rows]
    assert votes == sorted((m.vote_count for m in movies), reverse=True)[:30]


def test_the_report_has_both_halves_the_plot_and_the_target(
    tmp_path: Path, generated: tuple[TurnCases, list[Truth]]
) -> None:
    loaded, _ = generated
    seeded = SeededRanker(N_MOVIES)
    rankers: dict[str, EvalRanker] = {DEFAULT: seeded, "popularity": VoteCount(catalogue())}
    entry = {"dataset": "seed", "file": "dev.jsonl", **evaluate(loaded, rankers)}
    tuning, test = halves(loaded)
    assert entry["scores"][HALVES[1]][DEFAULT] == score(seeded, test.cases)
    assert entry["scores"][HALVES[0]]["popularity"]["cases"] == len(tuning.cases)
    report: dict[str, Any] = {"settings": {}, "seconds": 1.0, "splits": [], "conversation_turns": entry}
    (target,) = turn_targets(report)
    value = entry["scores"][HALVES[1]][DEFAULT]["Recall@10"]
    assert target["value"] == value and target["bound"] == TURNS_BOUND and target["met"] == (value >= TURNS_BOUND)
    assert target in targets(report)
    entry["scores"][HALVES[1]][DEFAULT]["Recall@10"] = TURNS_BOUND
    assert turn_targets(report)[0]["met"]
    lines = turns_section(report, ["eval.png", TURNS_PLOT])
    assert lines[0] == "## Conversations, every recommender turn (seed, test-split index)"
    header = next(line for line in lines if line.startswith("| ranker |"))
    assert all(f"{half}: Recall@{k}" in header for half in HALVES for k in (1, 10, 50))
    assert any(line.startswith(f"| **{DEFAULT}** | ") for line in lines)
    assert f"![every recommender turn, Recall@k by half]({TURNS_PLOT})" in lines
    report["targets"] = targets(report)
    text = markdown(report, ["eval.png", TURNS_PLOT])
    assert text.count(f"]({TURNS_PLOT})") == 1  # next to its table, not with the plots under the headline
    assert "conversations, every recommender turn, dedup (odd ids" in text
    plot(entry, tmp_path / TURNS_PLOT, DEFAULT, TURNS_BOUND)
    assert (tmp_path / TURNS_PLOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
