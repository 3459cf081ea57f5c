"""Writing the evaluation report: reports/eval.md, reports/eval.json and PNG plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from movierec.evaluation.harness import DEFAULT

MAIN_METRIC = {"taste": "NDCG@10", "mood+taste (genres)": "Hit@10", "mood+taste (keywords)": "Hit@10",
               "mood only": "Precision@10"}


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    plots = _plots(report, out_dir)
    (out_dir / "eval.md").write_text(markdown(report, plots))
    return out_dir / "eval.md"


def headline_table(report: dict[str, Any]) -> str:
    """One row per dataset: the default ranking's main metric per task, and the best rival's."""
    lines = ["| ratings | taste NDCG@10 (EASE) | mood+taste Hit@10, genres (best rival) | "
             "keywords (best rival) | mood only P@10 (prompt only) |", "|---|---|---|---|---|"]
    for split in report["splits"]:
        t = split["tasks"]
        cells = []
        for task, rival in (("taste", "EASE"), ("mood+taste (genres)", None), ("mood+taste (keywords)", None),
                            ("mood only", "prompt only")):
            scores, metric = t[task]["scores"], MAIN_METRIC[task]
            if rival is None:
                rival = max((r for r in scores if r not in (DEFAULT, "popularity", "ItemKNN")),
                            key=lambda r: scores[r][metric])
            cells.append(f"**{scores[DEFAULT][metric]:.3f}** ({scores[rival][metric]:.3f} {rival})")
        lines.append(f"| {split['dataset']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(report: dict[str, Any], plots: list[str]) -> str:
    s = report["settings"]
    out = ["# Evaluation", "",
           "Written by `make eval` (`movierec eval`); every number below comes from that one run. "
           f"It took {report['seconds']:.0f} s.", "",
           "Split: per user, the newest 20% of ratings (at least one) are held out (`test`); the rest "
           "trains the index, built by the production indexer, and every `movierec` row is ranked by the "
           "production `Recommender.recommend_batch`, the code the server runs. Reference rankers "
           "(popularity, ItemKNN, EASE, original design) are implemented in `movierec.evaluation.rankers`. "
           "Weights were chosen on a separate validation split (the newest 20% of each user's *training* "
           "ratings), never on the test figures.", "",
           "Default ranking: " + ", ".join(f"{k}={v}" for k, v in s.items()), "", "## Targets", "",
           "| ratings | target | value | bound | met |", "|---|---|---|---|---|"]
    for t in report["targets"]:
        out.append(f"| {t['dataset']} | {t['target']} | {t['value']:.4f} | {t['bound']:.4f} | "
                   f"{'yes' if t['met'] else '**NO**'} |")
    out += ["", "## Headline", "", headline_table(report), ""]
    out += [f"![{p}]({p})" for p in plots] + [""]
    for split in report["splits"]:
        out += [f"## {split['dataset']} — split `{split['split']}`", "",
                f"Catalogue `{split['data']}`, ratings `{split['ratings']}`: {split['users']} users, "
                f"{split['train_ratings']} training ratings, {split['held_out_ratings']} held out.", ""]
        for task, entry in split["tasks"].items():
            skipped = ", ".join(f"{v} {k}" for k, v in entry["skipped"].items()) or "none"
            out += [f"### {task}", "", f"{entry['description']}. {entry['requests']} requests "
                    f"(left out: {skipped}).", ""]
            metrics = list(next(iter(entry["scores"].values())))
            out += ["| ranker | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
            for ranker, scores in sorted(entry["scores"].items(), key=lambda kv: -kv[1][metrics[0]]):
                name = f"**{ranker}**" if ranker == DEFAULT else ranker
                out.append(f"| {name} | " + " | ".join(f"{scores[m]:.4f}" for m in metrics) + " |")
            out.append("")
    tuning = report.get("tuning")
    if tuning:
        out += ["## Choosing the weights (validation split)", "",
                f"Coordinate ascent on `{tuning['dataset']}`'s validation split (one mood+taste request per "
                "user), collaborative fixed at 1 as the scale. Objective: the mean of (default ÷ reference) over taste NDCG@10 (÷ EASE), "
                "mood+taste Hit@10 (÷ the better of EASE and z(prompt)+z(EASE)) and mood-only P@10 "
                "(÷ prompt only).", "",
                f"- started from the defaults: {tuning['start']} → objective {tuning['start_objective']:.4f}",
                f"- best found: {tuning['best']} → objective {tuning['best_objective']:.4f}",
                f"- the defaults {'are' if tuning['defaults_are_best'] else 'are NOT'} the validation optimum", "",
                "| weights (prompt, match, collaborative, community, taste, quality) | objective |", "|---|---|"]
        for t in sorted(tuning["trace"], key=lambda t: -t["objective"])[:12]:
            w = t["weights"]
            out.append(f"| {w['prompt']}, {w['match']}, {w['collaborative']}, {w['community']}, {w['taste']}, "
                       f"{w['quality']} | {t['objective']:.4f} |")
        out.append("")
    if report.get("ablations"):
        ab = report["ablations"]
        cols = [("taste", "NDCG@10"), ("mood+taste (genres)", "Hit@10"), ("mood only", "Precision@10")]
        out += [f"## What each ingredient adds ({ab['dataset']}, test split)", "",
                "The default ranking with one signal switched off (weight 0), and with the original design's "
                "centroid taste vectors in place of mean-centred ones.", "",
                "| variant | " + " | ".join(f"{t} {m}" for t, m in cols) + " |", "|---|---|---|---|"]
        for name, scores in ab["scores"].items():
            label = f"**{name}**" if name == DEFAULT else name
            out.append(f"| {label} | " + " | ".join(f"{scores[t][m]:.4f}" for t, m in cols) + " |")
        out.append("")
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
            ax.set_title(f"{split['dataset']}, split '{split['split']}', {split['users']} users: {task}\n"
                         f"{metric} over {split['tasks'][task]['requests']} requests", fontsize=9)
            ax.set_xlim(0, max(values) * 1.25 if max(values) > 0 else 1)
            ax.tick_params(labelsize=8)
    fig.suptitle("\n".join(["Held out ('test'): each user's newest 20% of ratings."] + [
        f"{s['dataset']}: catalogue {s['data']}, ratings {s['ratings']}" for s in splits]), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.012 * (1 + len(splits))))
    fig.savefig(out_dir / "eval.png", dpi=110)
    plt.close(fig)
    return ["eval.png"]
