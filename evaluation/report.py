"""Writing the evaluation report: reports/eval.md, reports/eval.json and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from movierec.evaluation import conversation_turns, independent_requests
from movierec.evaluation.harness import (
    DEFAULT,
    MOOD_ANONYMOUS,
    MOOD_ANONYMOUS_RIVALS,
    MOOD_ONLY,
    MOOD_ONLY_RIVALS,
    MOOD_TASTE,
    MOOD_TASTE_RIVALS,
    TAG_MOOD_ONLY,
    TAG_MOOD_TASTE,
    TASTE,
    TURNS_BOUND,
    WEIGHTED,
)

MAIN_METRIC = {
    TASTE: "NDCG@10",
    MOOD_TASTE: "Hit@10",
    MOOD_ONLY: "Precision@10",
    MOOD_ANONYMOUS: "Hit@10",
    TAG_MOOD_TASTE: "Hit@10",
    TAG_MOOD_ONLY: "Precision@10",
}
# The independent requests' plot is embedded in their own section, not with the others under the headline.
INDEPENDENT_PLOT = "eval-independent.png"
# Likewise the every-recommender-turn plot, next to its table.
TURNS_PLOT = "eval-turns.png"
MARKS_PLOT = "eval-marks.png"


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    plots = _plots(report, out_dir)
    (out_dir / "eval.md").write_text(markdown(report, plots))
    return out_dir / "eval.md"


def headline_table(report: dict[str, Any]) -> str:
    """One row per dataset: the default ranking's main metric per task, and the best rival's."""
    lines = [
        "| ratings | taste NDCG@10 (EASE) | mood+taste Hit@10, everyday wording (best rival) | "
        "mood only P@10, everyday wording (best rival) | mood, anonymous Hit@10 (best rival) |",
        "|---|---|---|---|---|",
    ]
    for split in report["splits"]:
        t = split["tasks"]
        cells = []
        for task, rivals in (
            (TASTE, ("EASE",)),
            (MOOD_TASTE, MOOD_TASTE_RIVALS),
            (MOOD_ONLY, MOOD_ONLY_RIVALS),
            (MOOD_ANONYMOUS, MOOD_ANONYMOUS_RIVALS),
        ):
            scores, metric = t[task]["scores"], MAIN_METRIC[task]
            rival = max(rivals, key=lambda r: scores[r][metric])
            cells.append(f"**{scores[DEFAULT][metric]:.3f}** ({scores[rival][metric]:.3f} {rival})")
        lines.append(f"| {split['dataset']} | " + " | ".join(cells) + " |")
    if "constraints" in report:
        c = report["constraints"]["scores"]
        lines += [
            "",
            "| constraint requests, share of the top 10 honouring them | "
            + " | ".join(report["constraints"]["per kind"])
            + " | all |",
            "|---|" + "---|" * (len(report["constraints"]["per kind"]) + 1),
        ]
        for ranker in c:
            name = f"**{ranker}**" if ranker == DEFAULT else ranker
            lines.append(
                f"| {name} | "
                + " | ".join(f"{c[ranker][k]:.3f}" for k in report["constraints"]["per kind"])
                + f" | {c[ranker]['all']:.3f} |"
            )
    if "conversations" in report:
        c = report["conversations"]["scores"]
        half = report["conversations"].get("test half scores", {})
        lines += [
            "",
            "| conversations (ReDial dev half) | Recall@10 | Recall@50 | Recall@10, odd ids (not tuned on) |",
            "|---|---|---|---|",
        ]
        for ranker, scores in sorted(c.items(), key=lambda kv: -kv[1]["Recall@10"]):
            name = f"**{ranker}**" if ranker == DEFAULT else ranker
            odd = f"{half[ranker]['Recall@10']:.3f}" if ranker in half else ""
            lines.append(f"| {name} | {scores['Recall@10']:.3f} | {scores['Recall@50']:.3f} | {odd} |")
    if "conversation_turns" in report:
        even, odd = (report["conversation_turns"]["scores"][half] for half in conversation_turns.HALVES)
        lines += [
            "",
            "| every recommender turn, dedup (ReDial) | Recall@10, even ids | Recall@10, odd ids (test) | "
            "Recall@50, odd ids |",
            "|---|---|---|---|",
        ]
        for ranker in sorted(odd, key=lambda r: -odd[r]["Recall@10"]):
            name = f"**{ranker}**" if ranker == DEFAULT else ranker
            lines.append(
                f"| {name} | {even[ranker]['Recall@10']:.3f} | {odd[ranker]['Recall@10']:.3f} | "
                f"{odd[ranker]['Recall@50']:.3f} |"
            )
    return "\n".join(lines)


def backends_section(b: dict[str, Any]) -> list[str]:
    """The configured encoder backend against the reference (movierec.evaluation.backends)."""
    a = b["agreement"]
    worse = [r for r in b["rows"] if not r["within"]]
    ours = f"`{b['backend']}` for prompts, `{b.get('index_backend', b['backend'])}` for the catalogue"
    out = [
        f"## Encoder backends: {ours}, against `{b['reference']}`",
        "",
        f"The whole evaluation ran twice, first with the `{b['reference']}` encoder for everything "
        f"({b['reference_seconds']:.0f} s) and then with {ours} (everything else above: 'configured'). "
        'Each score of the default ranking, side by side; "within": no more than 1% (relative) below the '
        f"reference, or better. {len(b['rows']) - len(worse)} of {len(b['rows'])} are within.",
        "",
        "Cosine between the two encoders' vectors: "
        + "; ".join(
            f"{name} ({v['texts']:,} texts) mean {v['mean']:.5f}, worst {v['worst']:.5f}" for name, v in a.items()
        )
        + ".",
        "",
        "The taste task is answered by the learned ranker, whose training amplifies tiny differences in the "
        "vectors (rounding) into score differences about as large as another training seed makes; it is "
        "judged on the mean over the training seeds of each run (the last columns), the default seed's "
        "score shown beside it.",
        "",
        "| score | configured | reference | change | mean over training seeds: configured | reference | change | "
        "within |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in b["rows"]:
        means = (
            f"{r['seed_mean']:.4f} | {r['seed_mean_fp32']:.4f} | {r['seed_mean_relative']:+.2%} ({r['seeds']} seeds)"
            if "seed_mean" in r
            else " | | "
        )
        out.append(
            f"| {r['score']} | {r['value']:.4f} | {r['fp32']:.4f} | {r['relative']:+.2%} | {means} | "
            f"{'yes' if r['within'] else '**NO**'} |"
        )
    return out + [""]


def learned_section(report: dict[str, Any]) -> list[str]:
    """The learned ranker (the default) against the weighted sum, with the noise of the difference."""
    out = [
        "## Learned ranker (the default) against the weighted sum",
        "",
        "The default re-scores the weighted sum's best candidates with the MLP of `movierec/learned.py` "
        "(two hidden layers, 32 and 16, over each signal's z-score and raw value and two rating counts) for "
        "the requests it was trained on: a known user, no mood, no examples; every other request keeps the "
        "weighted sum. The model of each test index was trained by the indexer inside that index's build, "
        "on the training ratings only (split again by time: older ratings make the lists, newer ratings "
        ">= 4 are the positives; `movierec/indexer/learn.py`); it never saw a test rating or an evaluation "
        "prompt.",
        "",
        "Noise: for each task, the difference default − weighted sum request by request, its mean, and a "
        "bootstrap 95% interval over the requests (2,000 seeded resamples): a task is *worse beyond noise* "
        "when the whole interval is below 0. Training noise (other seeds) is measured below.",
        "",
        "| ratings | taste NDCG@10: default | weighted sum | EASE | default / EASE | weighted sum / EASE | "
        "users trained on | final loss, train / held-out users |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for split in report["splits"]:
        info, scores = report["learned"].get(split["dataset"], {}), split["tasks"][TASTE]["scores"]
        curve = info.get("curve") or [{"train": float("nan"), "validation": float("nan")}]
        ease = scores["EASE"]["NDCG@10"]
        out.append(
            f"| {split['dataset']} | {scores[DEFAULT]['NDCG@10']:.4f} | {scores[WEIGHTED]['NDCG@10']:.4f} | "
            f"{ease:.4f} | {scores[DEFAULT]['NDCG@10'] / ease:.3f} | {scores[WEIGHTED]['NDCG@10'] / ease:.3f} | "
            f"{info.get('training', {}).get('users with a later liked movie in their pool', '-')} | "
            f"{curve[-1]['train']:.3f} / {curve[-1]['validation']:.3f} |"
        )
    seeds = {d: info["seeds"] for d, info in report["learned"].items() if info.get("seeds")}
    if seeds:
        out += [
            "",
            "Run-to-run noise of the learned ranker: the indexer's training repeated with other seeds on "
            "the same training ratings, each model answering the taste task on the same test index "
            "(the default is seed 0).",
            "",
            "| ratings | taste NDCG@10 per training seed | min | max | max − min | min / EASE |",
            "|---|---|---|---|---|---|",
        ]
        for split in report["splits"]:
            info = seeds.get(split["dataset"])
            if info is None:
                continue
            ease = split["tasks"][TASTE]["scores"]["EASE"]["NDCG@10"]
            per_seed = ", ".join(f"{k}: {v['NDCG@10']:.4f}" for k, v in info["scores"].items())
            out.append(
                f"| {split['dataset']} | {per_seed} | {info['NDCG@10 min']:.4f} | {info['NDCG@10 max']:.4f} | "
                f"{info['NDCG@10 max'] - info['NDCG@10 min']:.4f} | {info['NDCG@10 min'] / ease:.3f} |"
            )
    out += [
        "",
        "| ratings | task | metric | default − weighted sum | 95% interval | requests changed | worse beyond noise |",
        "|---|---|---|---|---|---|---|",
    ]
    for split in report["splits"]:
        for task, entry in split["tasks"].items():
            for metric, d in entry.get("default vs weighted sum", {}).items():
                out.append(
                    f"| {split['dataset']} | {task} | {metric} | {d['difference']:+.4f} | "
                    f"[{d['low']:+.4f}, {d['high']:+.4f}] | {d['requests changed']} | "
                    f"{'**yes**' if d['worse beyond noise'] else 'no'} |"
                )
    return out + [""]


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else str(value)


GROUP_METRICS = ("NDCG@10 (member mean)", "NDCG@10 (worst member)", "zero-recall@20")


def group_section(report: dict[str, Any]) -> list[str]:
    """Group lists (issue 12): the validation's choice of strategy, then the test groups."""
    if not report.get("groups"):
        return []
    out = [
        "## Groups: one list for several people",
        "",
        "Synthetic groups of users of the test index who each have held-out liked movies (rating >= 4): per "
        "size, random groups and groups of similar users (a random user and others drawn from the users whose "
        "taste vectors are nearest), seeded (`evaluation/groups.py`). Each group asks with no prompt; "
        "its top 20 is scored for every member against that member's own held-out liked movies: NDCG@10 (mean "
        "over members, and the worst member's, which is near 0 beyond pairs), and zero-recall@20, the share of "
        "members with none of their liked movies in the list (lower is fairer). The strategies run on the same "
        "member scores (`Ranker.member_scores`); `movierec (default)` is the server's path "
        "(`Recommender.recommend_batch` with `group_user_ids`). References: popularity (the most rated movies no "
        "member rated) and a random member's own single-user list (without what the others rated). The row "
        "marked *bound* is a diagnostic, not a ranker: GFAR's greedy list on the same member scores, with each "
        "member's chance of liking a movie scaled by how many held-out liked movies that member has (read from "
        "the test labels; the best of a small grid per size). It shows how much zero-recall a fairness-aware "
        "re-ranking of these member scores could gain even if it knew which members are easy to serve.",
        "",
    ]
    tuning = report.get("group_tuning")
    if tuning:
        out += [
            f"**Choice on validation** ({tuning['dataset']}, validation split, its own groups): {tuning['rule']}. "
            f"Chosen: **{tuning['chosen']}** (settings {tuning['settings']}).",
            "",
            "| strategy (validation) | mean-member NDCG@10, sizes pooled | zero-recall@20, sizes pooled |",
            "|---|---|---|",
        ]
        for name, v in tuning["pooled"].items():
            bold = "**" if name == tuning["chosen"] else ""
            out.append(f"| {bold}{name}{bold} | {v['NDCG@10 (member mean)']:.4f} | {v['zero-recall@20']:.4f} |")
        out.append("")
    for dataset, entry in report["groups"].items():
        out += [f"### {dataset} (test groups; default = {entry['default']})", ""]
        for size, by_kind in entry["scores"].items():
            counts = by_kind["groups"]
            out += [
                f"Groups of {size} ({counts['random']} random, {counts['similar']} of similar users):",
                "",
                "| ranker | NDCG@10 member mean | worst member | zero-recall@20 | random groups: NDCG / zero | "
                "similar groups: NDCG / zero |",
                "|---|---|---|---|---|---|",
            ]
            rows = by_kind["all"]
            for name in sorted(rows, key=lambda n: -rows[n]["NDCG@10 (member mean)"]):
                r, a, b = rows[name], by_kind["random"][name], by_kind["similar"][name]
                bold = "**" if name == DEFAULT else ""
                out.append(
                    f"| {bold}{name}{bold} | {r['NDCG@10 (member mean)']:.4f} | "
                    f"{r['NDCG@10 (worst member)']:.4f} | {r['zero-recall@20']:.4f} | "
                    f"{a['NDCG@10 (member mean)']:.4f} / {a['zero-recall@20']:.4f} | "
                    f"{b['NDCG@10 (member mean)']:.4f} / {b['zero-recall@20']:.4f} |"
                )
            out.append("")
    return out


def marks_section(report: dict[str, Any], plots: list[str]) -> list[str]:
    """Not-interested marks as a weak negative (movierec.evaluation.marks)."""
    if not report.get("marks"):
        return []
    out = [
        "## Not-interested marks",
        "",
        'Per user, the held-out movies rated below 3 are movies they would call "not for me": a seeded half '
        "is marked NOT_INTERESTED through `Recommender.apply` (the feedback path), the other half shows whether "
        "movies like them leave the list too. The next prompt-less list is scored on the held-out liked movies "
        "(>= 4). Every weight leaves the marked movies out (checked on every list); the weight "
        "(`not_interested_weight`) also subtracts the marked movies' collaborative scores. `marks ignored`: no "
        "marks at all. Differences are paired per user against weight 0, with a bootstrap 95% interval.",
        "",
    ]
    tuning = report.get("marks_tuning")
    sections = ([("validation", tuning["dataset"], tuning)] if tuning else []) + [
        ("test", dataset, entry) for dataset, entry in report["marks"].items()
    ]
    for split, dataset, entry in sections:
        chosen = f"; chosen: **{entry['chosen']:g}**" if "chosen" in entry else f"; weight {entry['weight']:g}"
        out += [
            f"{dataset}, {split} split: {entry['users']} users, {entry['marks']} marks (skipped: "
            f"{', '.join(f'{k} {v}' for k, v in entry['skipped'].items())}){chosen}.",
            "",
            "| weight | NDCG@10 | vs 0 | Recall@10 | vs 0 | disliked share@10 |",
            "|---|---|---|---|---|---|",
        ]
        for name, s in entry["scores"].items():
            a = entry["against 0"].get(name, {})

            def vs(metric: str, a: dict[str, Any] = a) -> str:
                return (
                    f"{a[metric]['difference']:+.4f} [{a[metric]['low']:+.4f}, {a[metric]['high']:+.4f}]"
                    if metric in a
                    else "—"
                )

            out.append(
                f"| {name} | {s['NDCG@10']:.4f} | {vs('NDCG@10')} | {s['Recall@10']:.4f} | {vs('Recall@10')} | "
                f"{s['disliked share@10']:.4f} |"
            )
        out.append("")
    if MARKS_PLOT in plots:
        out += [f"![not-interested marks]({MARKS_PLOT})", ""]
    return out


def independent_section(report: dict[str, Any], plots: list[str]) -> list[str]:
    """The independently written requests (movierec.evaluation.independent_requests): by kind, half and
    anonymous or with users; the kids cases that got a Horror film; the plot (when in `plots`); and
    leave one family out."""
    entry = report.get("independent")
    if not entry:
        return []
    scores, families = entry["scores"], entry["families"]
    horror = scores["kids_horror"]
    out = [
        f"## Understanding on independently written requests ({entry['dataset']}, test-split index)",
        "",
        f"{entry['requests']} everyday requests in {families['dev'] + families['test']} phrasing families of "
        f"{len(independent_requests.KINDS)} kinds, written by four authors in four voices who never saw the "
        "understanding stage or the other request sets (`evaluation/requests/`, "
        "`evaluation/independent_requests.py`); each asked anonymously and for two seeded real users "
        f"({entry['cases']} cases; left out, as nothing in the catalogue satisfies them for that user: "
        f"{entry['skipped']}), ranked by `{entry['ranker']}`. Score: the "
        "share of the top 10 that satisfies the request's check on catalogue metadata, over min(10, the movies "
        "that could satisfy it and the user has not rated). The families of each kind were split by a salted "
        f"hash into a development half ({families['dev']} families) and a test half ({families['test']}) "
        "before any understanding change: the understanding rules are tuned on the development half only, so "
        "**the test half is the result**; the development half is shown as what was tuned on.",
        "",
        *independent_requests.kind_table(scores["by_kind"]),
        "",
        f"Kids requests (check: Family or Animation, never Horror): {scores['kids_cases']} cases, both halves; "
        f"**{len(horror)}** returned a Horror film in the top 10" + (":" if horror else "."),
        "",
    ]
    if horror:
        out += [*independent_requests.horror_lines(horror), ""]
    if INDEPENDENT_PLOT in plots:
        out += [f"![independent requests by kind and half]({INDEPENDENT_PLOT})", ""]
    out += [
        "Leave one family out: each family scored on its own (anonymous and users together). No rule was "
        "tuned on a test family, so each test family's score is that of a phrasing the understanding stage "
        "never saw, and the mean over a kind's test families is the leave-one-family-out estimate; every "
        "family counts once. The lowest family shows the construction that fails worst.",
        "",
        *independent_requests.family_table(scores["leave_one_family_out"]),
        "",
    ]
    return out


def turns_section(report: dict[str, Any], plots: list[str]) -> list[str]:
    """Every recommender turn of the ReDial conversations (movierec.evaluation.conversation_turns): the
    protocol, the counts, each ranker's Recall@k on each half, and the plot (when in `plots`)."""
    entry = report.get("conversation_turns")
    if not entry:
        return []
    halves = list(entry["scores"])
    first = entry["scores"][halves[0]]
    metrics = [m for m in next(iter(first.values())) if m.startswith("Recall@")]
    counts = "; ".join(
        f"{half}: {int(c['cases'])} turns, {int(c['pairs'])} pairs"
        for half, c in ((h, next(iter(entry["scores"][h].values()))) for h in halves)
    )
    out = [
        f"## Conversations, every recommender turn ({entry['dataset']}, test-split index)",
        "",
        f"`{entry['file']}`: ReDial (Li et al. 2018, CC BY 4.0), measured as Kostric & Balog (SIGIR 2026) and "
        "He et al. (CIKM 2023) do. Every recommender message that names a movie nobody named before it is a "
        "case: its context is the whole conversation before it (every earlier message, with its role, each "
        '`@id` written as "Title (year)"); its targets are the movies it names that were not named earlier '
        "(dedup), mapped to the catalogue by title and year (within one year). Each ranker gets the context "
        "alone, anonymously; the movies named earlier are removed from its list before the cut at k (no "
        "credit for repeating them), and Recall@k is averaged over (turn, target) pairs "
        "(`evaluation/conversation_turns.py`). "
        f"{entry['cases']} turns, {entry['pairs']} pairs ({counts}); recommender messages naming movies left "
        f"out: {', '.join(f'{v} {k}' for k, v in entry['skipped'].items()) or 'none'}. ReDial titles mapped "
        f"to the catalogue: {entry['titles mapped']}, not in it: {entry['titles not in the catalogue']}. "
        "The halves split by conversation id: weights may be chosen on the even ids, the odd ids are only "
        "measured (the test).",
        "",
        f"`{DEFAULT}` is the service given the conversation (`RecommendQuery.conversation`); `service, "
        f"conversation pasted as the prompt` is the same service given the last "
        f"{conversation_turns.PASTED_CHARS:,} characters of the conversation's texts as its prompt and no "
        "conversation, what a client of a prompt-only service would send. References: popularity (most "
        "ratings in the training split, as in the conversation openings above), popularity by TMDB vote "
        "count, and the sum of the EASE rows (the reference EASE) of every movie named so far, read from "
        "ReDial's own marks (an entity linker that never errs).",
        "",
        "| ranker | " + " | ".join(f"{half}: {m}" for half in halves for m in metrics) + " | seconds |",
        "|---|" + "---|" * (len(halves) * len(metrics) + 1),
    ]
    last = entry["scores"][halves[-1]]
    for ranker in sorted(last, key=lambda r: -last[r]["Recall@10"]):
        name = f"**{ranker}**" if ranker == DEFAULT else ranker
        cells = [f"{entry['scores'][half][ranker][m]:.4f}" for half in halves for m in metrics]
        seconds = entry.get("seconds", {}).get(ranker, float("nan"))
        out.append(f"| {name} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    out.append("")
    if TURNS_PLOT in plots:
        out += [f"![every recommender turn, Recall@k by half]({TURNS_PLOT})", ""]
    return out


def holdout_section(report: dict[str, Any], key: str = "independent_holdout") -> list[str]:
    """A held-out set of authors' requests (`requests-holdout/`, `requests-fresh/`): every family a test
    family, by kind."""
    entry = report.get(key)
    if not entry:
        return []
    scores = entry["scores"]
    horror = scores["kids_horror"]
    out = [
        f"### {entry.get('title', 'Held-out authors')}",
        "",
        f"{entry['requests']} more requests in {entry['families']['test']} phrasing families by two further "
        f"authors (`evaluation/{entry.get('folder', 'requests-holdout')}/`), written after the "
        "understanding work above and never tuned on, so every family is a test family "
        f"({entry['cases']} cases, ranked by `{entry['ranker']}`).",
        "",
        *independent_requests.kind_table(scores["by_kind"]),
        "",
        f"Kids requests: {scores['kids_cases']} cases; **{len(horror)}** returned a Horror film in the top 10"
        + (":" if horror else "."),
        "",
    ]
    if horror:
        out += [*independent_requests.horror_lines(horror), ""]
    return out


def markdown(report: dict[str, Any], plots: list[str]) -> str:
    s = report["settings"]
    out = [
        "# Evaluation",
        "",
        "Written by `make eval` (`movierec eval`); every number below comes from that one run. "
        f"It took {report['seconds']:.0f} s.",
        "",
        "Split: per user, the newest 20% of ratings (at least one) are held out (`test`); the rest "
        "trains the index, built by the production indexer, and every `movierec` row is ranked by the "
        "production `Recommender.recommend_batch`, the code the server runs. Reference rankers "
        "(popularity, ItemKNN, EASE, original design, plain cosine, BM25) are implemented in "
        "`movierec.evaluation.rankers` and `movierec.evaluation.understanding_tasks`. "
        "Weights were chosen on a separate validation split (the newest 20% of each user's *training* "
        "ratings) with the *tuning* everyday wordings and, for anonymous requests, the ReDial conversations "
        "with even ids; never on the test figures, the test wordings, the constraint requests or the "
        "conversations with odd ids, which are reported on their own.",
        "",
        "The mood tasks ask in everyday wordings (`evaluation/paraphrases.py`: one set for tuning, "
        "a disjoint one for the test), not in the tags the `match` signal reads; the tag-prompt tasks of "
        "the last round are kept for comparison and are a lookup by construction. "
        + (
            f"The understanding stage reads the asked genre directly from "
            f"{report['understanding_share']['genre read directly']:.0%} of the "
            f"{report['understanding_share']['test wordings']} test wordings (everyday words such as "
            "'funny' or 'scary' are in its genre table); the rest it has to get from the encoder. "
            if "understanding_share" in report
            else ""
        ),
        "",
        "`last round's ranking` is the previous release (z-scored signals, match weight 4, no "
        "understanding stage); `z(...)+z(EASE)` read the whole prompt as the mood, as it did.",
        "",
        "Default ranking: " + ", ".join(f"{k}={v}" for k, v in s.items()),
        "",
        "## Targets",
        "",
        "| ratings | target | value | bound | met |",
        "|---|---|---|---|---|",
    ]
    for t in report["targets"]:
        out.append(
            f"| {t['dataset']} | {t['target']} | {_number(t['value'])} | {_number(t['bound'])} | "
            f"{'yes' if t['met'] else '**NO**'} |"
        )
    out += ["", "## Headline", "", headline_table(report), ""]
    if report.get("backends"):
        out += backends_section(report["backends"])
    out += [f"![{p}]({p})" for p in plots if p not in (INDEPENDENT_PLOT, TURNS_PLOT)] + [""]
    if report.get("learned"):
        out += learned_section(report)
    for split in report["splits"]:
        out += [
            f"## {split['dataset']} — split `{split['split']}`",
            "",
            f"Catalogue `{split['data']}`, ratings `{split['ratings']}`: {split['users']} users, "
            f"{split['train_ratings']} training ratings, {split['held_out_ratings']} held out.",
            "",
        ]
        for task, entry in split["tasks"].items():
            skipped = ", ".join(f"{v} {k}" for k, v in entry["skipped"].items()) or "none"
            out += [
                f"### {task}",
                "",
                f"{entry['description']}. {entry['requests']} requests (left out: {skipped}).",
                "",
            ]
            metrics = list(next(iter(entry["scores"].values())))
            out += ["| ranker | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
            for ranker, scores in sorted(entry["scores"].items(), key=lambda kv: -kv[1][metrics[0]]):
                name = f"**{ranker}**" if ranker == DEFAULT else ranker
                out.append(f"| {name} | " + " | ".join(f"{scores[m]:.4f}" for m in metrics) + " |")
            out.append("")
    tuning = report.get("tuning")
    if tuning:
        out += [
            "## Choosing the weights (validation split)",
            "",
            f"Coordinate ascent on `{tuning['dataset']}`'s validation split (one mood request per user, the "
            "tuning wordings), collaborative fixed at 1 as the scale; requests with a user and anonymous "
            "requests have a weight set each, chosen on their own tasks. Objective: the geometric mean of "
            "(default ÷ reference) over the tasks: taste NDCG@10 (÷ EASE) and mood+taste Hit@10 (÷ the better "
            "of EASE and z(match)+z(EASE)) for the user weights; mood-only P@10 (÷ the better of plain cosine "
            "and BM25) and anonymous mood Hit@10 (÷ the best of plain cosine, cosine+log(votes) and BM25) "
            "for the anonymous weights.",
            "",
        ]
        for kind in ("user", "anonymous"):
            t = tuning[kind]
            names = list(t["start"])
            out += [
                f"### {kind} weights",
                "",
                f"- started from the defaults: {t['start']} → objective {t['start_objective']:.4f}",
                f"- best found: {t['best']} → objective {t['best_objective']:.4f}",
                f"- the defaults {'are' if t['defaults_are_best'] else 'are NOT'} the validation optimum",
                "",
                f"| weights ({', '.join(names)}) | objective |",
                "|---|---|",
            ]
            for row in sorted(t["trace"], key=lambda r: -r["objective"])[:8]:
                out.append(f"| {', '.join(str(row['weights'].get(n, 0)) for n in names)} | {row['objective']:.4f} |")
            out.append("")
    if report.get("ablations"):
        ab = report["ablations"]
        cols = [
            (TASTE, "NDCG@10"),
            (MOOD_TASTE, "Hit@10"),
            (MOOD_ONLY, "Precision@10"),
            (MOOD_ANONYMOUS, "Hit@10"),
            ("constraints", "all"),
        ]
        out += [
            f"## What each ingredient adds ({ab['dataset']}, test split)",
            "",
            "The default ranking with one signal switched off (weight 0), without the understanding stage, "
            "with the earlier z-score combination, and with the original design's centroid taste vectors "
            "in place of mean-centred ones. A signal switched off changes the learned ranker's inputs, "
            "which it was not trained for, so the `without <signal>` rows and the two calibration rows are "
            "of the weighted sum: compare them with the `weighted sum` row. The understanding and centroid "
            "rows keep the learned ranker (the centroid index trains its own).",
            "",
            "| variant | " + " | ".join(f"{t} {m}" for t, m in cols) + " |",
            "|---|" + "---|" * len(cols),
        ]
        for name, scores in ab["scores"].items():
            label = f"**{name}**" if name == DEFAULT else name
            out.append(f"| {label} | " + " | ".join(f"{scores[t][m]:.4f}" for t, m in cols) + " |")
        out.append("")
    if report.get("constraints"):
        c = report["constraints"]
        out += [
            f"## Constraint requests ({c['dataset']}, test-split index)",
            "",
            f"{c['requests']} everyday requests written by hand (`evaluation/constraint_requests.py`), "
            f"{', '.join(f'{n} {k}' for k, n in c['per kind'].items())}, each asked anonymously and for three "
            f"seeded real users ({c['cases']} cases; left out: {c['skipped'] or 'none'}). Score: the share of the "
            "top 10 that satisfies the request's check on catalogue metadata and carries the asked genre, "
            "over min(10, the movies that could satisfy it and the user has not rated).",
            "",
        ]
        keys = sorted(next(iter(c["scores"].values())))
        out += ["| ranker | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
        for ranker, scores in c["scores"].items():
            name = f"**{ranker}**" if ranker == DEFAULT else ranker
            out.append(f"| {name} | " + " | ".join(f"{scores[k]:.3f}" for k in keys) + " |")
        out.append("")
    out += independent_section(report, plots)
    for _, key, _ in independent_requests.HELD_OUT_SETS:
        out += holdout_section(report, key)
    if report.get("conversations"):
        c = report["conversations"]
        out += [
            f"## Conversations ({c['dataset']}, test-split index)",
            "",
            f"`{c['file']}`: ReDial (Li et al. 2018, CC BY 4.0), half of its test set. Request = the seeker's "
            'messages before the recommender\'s first suggestion, each `@id` written as "Title (year)"; '
            "relevant = the movies the recommender suggested that the catalogue has, without the ones the "
            f"seeker named. {c['requests']} conversations (left out: "
            f"{', '.join(f'{v} {k}' for k, v in c['skipped'].items()) or 'none'}); ReDial titles mapped to "
            f"the catalogue by title and year: {c['titles mapped']}, not in the catalogue: "
            f"{c['titles not in the catalogue']}. The weights for anonymous requests were chosen with the "
            "conversations of even ReDial id among the tuning tasks (on the validation index); the "
            f"{c.get('test half requests', 0)} of odd id were only measured, and are the fair test.",
            "",
            "| ranker | Recall@10 | Recall@50 | Recall@10, odd ids | Recall@50, odd ids |",
            "|---|---|---|---|---|",
        ]
        half = c.get("test half scores", {})
        for ranker, scores in sorted(c["scores"].items(), key=lambda kv: -kv[1]["Recall@10"]):
            name = f"**{ranker}**" if ranker == DEFAULT else ranker
            odd = half.get(ranker, {})
            out.append(
                f"| {name} | {scores['Recall@10']:.4f} | {scores['Recall@50']:.4f} | "
                f"{odd.get('Recall@10', float('nan')):.4f} | {odd.get('Recall@50', float('nan')):.4f} |"
            )
        out.append("")
    out += turns_section(report, plots)
    out += group_section(report)
    out += marks_section(report, plots)
    if report.get("examples"):
        out += ["## Free-text prompts (anonymous, test-split index; not scored)", ""]
        for prompt, titles in report["examples"].items():
            out.append(f"- *{prompt}*: " + "; ".join(titles))
        out.append("")
    return "\n".join(out)


def _plots(report: dict[str, Any], out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(MAIN_METRIC)
    splits = report["splits"]
    fig, axes = plt.subplots(len(tasks), len(splits), figsize=(6.5 * len(splits), 3.2 * len(tasks)), squeeze=False)
    for col, split in enumerate(splits):
        for row, task in enumerate(tasks):
            ax = axes[row][col]
            metric = MAIN_METRIC[task]
            scores = split["tasks"][task]["scores"]
            names = sorted(scores, key=lambda r: scores[r][metric])
            values = [scores[r][metric] for r in names]
            colours = ["#d62728" if r == DEFAULT else "#7f7f7f" for r in names]
            ax.barh(names, values, color=colours)
            for y, v in enumerate(values):
                ax.text(v, y, f" {v:.3f}", va="center", fontsize=8)
            ax.set_title(
                f"{split['dataset']}, split '{split['split']}', {split['users']} users: {task}\n"
                f"{metric} over {split['tasks'][task]['requests']} requests",
                fontsize=9,
            )
            ax.set_xlim(0, max(values) * 1.25 if max(values) > 0 else 1)
            ax.tick_params(labelsize=8)
    fig.suptitle(
        "\n".join(
            ["Held out ('test'): each user's newest 20% of ratings."]
            + [f"{s['dataset']}: catalogue {s['data']}, ratings {s['ratings']}" for s in splits]
        ),
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.012 * (1 + len(splits))))
    fig.savefig(out_dir / "eval.png", dpi=110)
    plt.close(fig)
    names = ["eval.png"]
    if report.get("learned"):  # the learned scorer's training curves, one panel per ratings file
        learned = report["learned"]
        fig, axes = plt.subplots(1, len(learned), figsize=(6 * len(learned), 3.6), squeeze=False)
        for ax, (dataset, info) in zip(axes[0], learned.items()):
            if not info.get("curve"):
                ax.set_title(f"{dataset}: no learned ranker ({info.get('skipped', 'not trained')})", fontsize=8)
                continue
            epochs = [row["epoch"] for row in info["curve"]]
            ax.plot(epochs, [row["train"] for row in info["curve"]], label="train users")
            ax.plot(epochs, [row["validation"] for row in info["curve"]], label="held-out users")
            ax.set_title(
                f"learned ranker, {dataset}: listwise loss per epoch\n"
                f"{info.get('training', {}).get('users with a later liked movie in their pool')}"
                f" users with a later liked movie in their pool",
                fontsize=9,
            )
            ax.set_xlabel("epoch", fontsize=8)
            ax.legend(fontsize=8)
            ax.tick_params(labelsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "eval-learned.png", dpi=110)
        plt.close(fig)
        names.append("eval-learned.png")
    if report.get("groups"):  # each ranker's mean-member NDCG@10 against its zero-recall@20
        groups = report["groups"]
        sizes = list(next(iter(groups.values()))["scores"])
        fig, axes = plt.subplots(len(groups), len(sizes), figsize=(5 * len(sizes), 4.2 * len(groups)), squeeze=False)
        for row, (dataset, entry) in enumerate(groups.items()):
            for col, size in enumerate(sizes):
                ax = axes[row][col]
                rows = entry["scores"][size]["all"]
                for name, v in rows.items():
                    colour = (
                        "#d62728"
                        if name == DEFAULT
                        else "#1f77b4"
                        if name in ("a random member's own list", "popularity")
                        else "#7f7f7f"
                    )
                    ax.scatter(v["zero-recall@20"], v["NDCG@10 (member mean)"], color=colour, s=18)
                    if (
                        name == DEFAULT
                        or colour == "#1f77b4"
                        or name in ("average", "least misery")
                        or name.startswith("fair (depth 20")
                    ):
                        ax.annotate(name, (v["zero-recall@20"], v["NDCG@10 (member mean)"]), fontsize=7)
                ax.set_xlabel("zero-recall@20 (lower is fairer)", fontsize=8)
                ax.set_ylabel("mean-member NDCG@10", fontsize=8)
                ax.set_title(f"{dataset}: groups of {size}", fontsize=9)
                ax.tick_params(labelsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "eval-groups.png", dpi=110)
        plt.close(fig)
        names.append("eval-groups.png")
    tuning = report.get("marks_tuning")
    if tuning:  # validation's NDCG@10 by weight, with its interval against 0
        weights = [n for n in tuning["scores"] if n != "marks ignored"]
        values = [tuning["scores"][n]["NDCG@10"] for n in weights]
        zero = tuning["scores"][weights[0]]["NDCG@10"]
        low = [zero + tuning["against 0"][n]["NDCG@10"]["low"] if n in tuning["against 0"] else zero for n in weights]
        high = [zero + tuning["against 0"][n]["NDCG@10"]["high"] if n in tuning["against 0"] else zero for n in weights]
        fig, ax = plt.subplots(figsize=(6, 3.6))
        ax.errorbar(
            range(len(weights)),
            values,
            yerr=[[v - lo for v, lo in zip(values, low)], [hi - v for v, hi in zip(values, high)]],
            fmt="o",
            capsize=3,
        )
        ax.axhline(zero, color="#7f7f7f", lw=0.8, ls="--")
        ax.set_xticks(range(len(weights)), weights)
        ax.set_xlabel("not_interested_weight", fontsize=8)
        ax.set_ylabel("next list NDCG@10 (validation)", fontsize=8)
        ax.set_title(f"{tuning['dataset']}: not-interested marks ({tuning['users']} users)", fontsize=9)
        fig.tight_layout()
        fig.savefig(out_dir / MARKS_PLOT, dpi=110)
        plt.close(fig)
        names.append(MARKS_PLOT)
    if "constraints" in report or "conversations" in report:
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), squeeze=False)
        if "constraints" in report:
            ax = axes[0][0]
            c = report["constraints"]
            kinds = list(c["per kind"])
            width = 0.8 / len(c["scores"])
            for j, (ranker, scores) in enumerate(c["scores"].items()):
                ax.bar(
                    [i + j * width for i in range(len(kinds))],
                    [scores[k] for k in kinds],
                    width,
                    label=ranker,
                    color="#d62728" if ranker == DEFAULT else None,
                )
            ax.axhline(0.9, color="black", linewidth=0.8, linestyle="--")
            ax.set_xticks([i + 0.4 - width / 2 for i in range(len(kinds))], kinds, fontsize=8)
            ax.set_ylim(0, 1.05)
            ax.set_title(f"constraint requests ({c['cases']} cases): share of the top 10 honouring them", fontsize=9)
            ax.legend(fontsize=7)
        if "conversations" in report:
            ax = axes[0][1]
            c = report["conversations"]
            order = sorted(c["scores"], key=lambda r: c["scores"][r]["Recall@10"])
            ax.barh(
                order,
                [c["scores"][r]["Recall@10"] for r in order],
                color=["#d62728" if r == DEFAULT else "#7f7f7f" for r in order],
            )
            for y, r in enumerate(order):
                ax.text(c["scores"][r]["Recall@10"], y, f" {c['scores'][r]['Recall@10']:.3f}", va="center", fontsize=8)
            ax.axvline(0.12, color="black", linewidth=0.8, linestyle="--")
            ax.set_title(f"ReDial conversation openings ({c['requests']}): Recall@10", fontsize=9)
            ax.tick_params(labelsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "eval-understanding.png", dpi=110)
        plt.close(fig)
        names.append("eval-understanding.png")
    if report.get("independent"):
        entry = report["independent"]
        independent_requests.plot(
            entry["scores"]["by_kind"],
            out_dir / INDEPENDENT_PLOT,
            f"independent requests by kind and half ({entry['dataset']}, {entry['ranker']})",
            dpi=110,
        )
        names.append(INDEPENDENT_PLOT)
    if report.get("conversation_turns"):
        conversation_turns.plot(report["conversation_turns"], out_dir / TURNS_PLOT, DEFAULT, TURNS_BOUND)
        names.append(TURNS_PLOT)
    return names
