"""How the conversation reader's verdicts on named movies agree with what ReDial seekers said of them.

ReDial asks the seeker, for every movie named in the conversation, whether they liked it (1), disliked it
(0) or did not say (2), whether they had seen it, and whether the recommender suggested it. Each dev
conversation is read whole (`movierec.conversation.read_conversation`, turns as the every-turn task writes
them) and each movie the catalogue has is compared: named by the seeker or suggested to them; liked,
disliked or seen-without-a-verdict by the questionnaire; read as liked, disliked, seen, suggested (no
verdict) or not read at all. Both halves are reported (odd ids: not used for any choice).

    python -m movierec.evaluation.conversation_verdicts --index-dir var/seed-index --out reports
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from movierec.artifact import load_artifact
from movierec.conversation import DISLIKED, LIKED, SEEN, SUGGESTED, read_conversation
from movierec.domain import RECOMMENDER, SEEKER, Movie, Turn
from movierec.evaluation.conversation_turns import written_out
from movierec.evaluation.conversations import TitleMapper, read_conversations
from movierec.understanding import Understander, Understood

DEV = Path("../shared/data/redial/dev.jsonl")
READINGS = (LIKED, DISLIKED, SEEN, SUGGESTED, "not read")
TRUTHS = ("liked", "disliked", "seen, no verdict")


def questionnaire_verdict(answers: object) -> str | None:
    """A seeker's questionnaire answer on a movie as LIKED, DISLIKED or SEEN (seen, no verdict); None when it
    says neither."""
    if not isinstance(answers, dict):
        return None
    return (
        LIKED
        if answers.get("liked") == 1
        else DISLIKED
        if answers.get("liked") == 0
        else SEEN
        if answers.get("seen") == 1
        else None
    )


def tally(path: Path, movies: Sequence[Movie], understand: Callable[[str], Understood]) -> dict[str, Any]:
    """half ("even", "odd") -> "seeker" / "suggested" -> questionnaire truth -> reading -> count."""
    mapper = TitleMapper(list(movies))
    out: dict[str, Any] = {
        h: {s: {t: Counter() for t in TRUTHS} for s in ("seeker", "suggested")} for h in ("even", "odd")
    }
    for c in read_conversations(path):
        mentions = c.get("movieMentions") or {}
        roles = {c["initiatorWorkerId"]: SEEKER, c["respondentWorkerId"]: RECOMMENDER}
        turns = [
            Turn(roles[m["senderWorkerId"]], text)
            for m in c["messages"]
            if m["senderWorkerId"] in roles and (text := written_out(m["text"], mentions))
        ]
        read = {row: reading for row, reading, _ in read_conversation(understand, turns).named}
        half = out["odd" if int(c["conversationId"]) % 2 else "even"]
        for redial_id, answers in (c.get("initiatorQuestions") or {}).items():
            verdict = questionnaire_verdict(answers)
            row = mapper.row(mentions.get(redial_id) or "") if verdict is not None else None
            if row is not None:
                source = "suggested" if answers.get("suggested") == 1 else "seeker"
                half[source][TRUTHS[(LIKED, DISLIKED, SEEN).index(verdict)]][read.get(row, "not read")] += 1
    return out


def report(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    (out / "conversation-verdicts.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Verdicts on named movies in ReDial conversations, against the seekers' questionnaire",
        "",
        "`python -m movierec.evaluation.conversation_verdicts --index-dir var/seed-index --out reports`"
        " (the module's docstring says what is counted). Rows: what the seeker told the questionnaire; "
        "columns: how the conversation was read.",
        "",
    ]
    for half in ("even", "odd"):
        for source in ("seeker", "suggested"):
            title = "named by the seeker" if source == "seeker" else "suggested by the recommender"
            lines += [
                f"**{half} ids, movies {title}**",
                "",
                "| questionnaire | n | " + " | ".join(READINGS) + " |",
                "|---" * (len(READINGS) + 2) + "|",
            ]
            for truth in TRUTHS:
                counts = result[half][source][truth]
                n = sum(counts.values())
                lines.append(f"| {truth} | {n} | " + " | ".join(str(counts.get(r, 0)) for r in READINGS) + " |")
            lines.append("")
    (out / "conversation-verdicts.md").write_text("\n".join(lines), encoding="utf-8")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, source in zip(axes, ("seeker", "suggested")):
        at = np.arange(len(TRUTHS))
        bottom = np.zeros(len(TRUTHS))
        for reading in READINGS:
            shares = []
            for truth in TRUTHS:
                counts = result["odd"][source][truth]
                shares.append(counts.get(reading, 0) / max(1, sum(counts.values())))
            ax.bar(at, shares, 0.6, bottom=bottom, label=reading)
            bottom += shares
        ax.set_xticks(at, TRUTHS)
        ax.set_title(f"odd ids, {'named by the seeker' if source == 'seeker' else 'suggested to them'}")
    axes[0].set_ylabel("share of the movies")
    axes[1].legend(title="read as", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "conversation-verdicts.png", dpi=110)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])  # the first paragraph, whole
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--conversations", type=Path, default=DEV)
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    movies = load_artifact(args.index_dir).movies
    report(tally(args.conversations, movies, Understander(movies).understand), args.out)
    print((args.out / "conversation-verdicts.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
