"""`movierec eval` / `make eval`: the offline evaluation on real ratings."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from movierec.diagnostics import MovierecError
from movierec.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="movierec eval", description=__doc__)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("../shared/data/seed"),
        help="catalogue + ratings folder (default ../shared/data/seed)",
    )
    parser.add_argument(
        "--second-ratings",
        type=Path,
        default=Path("../shared/data/ml-latest-small"),
        help="folder with another ratings.csv + links.csv on the same catalogue ('' to skip)",
    )
    parser.add_argument(
        "--conversations",
        type=Path,
        default=Path("../shared/data/redial/dev.jsonl"),
        help="ReDial conversations (jsonl) to answer ('' to skip)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports"), help="where eval.md/json/png go")
    parser.add_argument("--work-dir", type=Path, default=Path("var/eval"), help="training indexes + embedding cache")
    parser.add_argument("--no-tune", action="store_true", help="skip choosing weights on the validation split")
    parser.add_argument(
        "--learned-seeds",
        default=",".join(map(str, range(10))),
        help="training seeds the learned ranker is trained again with, for its run-to-run noise "
        "on the taste task, and the mean an encoder backend's taste scores are judged on "
        "('' to skip)",
    )
    parser.add_argument(
        "--groups-per-kind",
        type=int,
        default=300,
        help="synthetic groups per size and kind (random, similar users) for the group evaluation",
    )
    parser.add_argument(
        "--reference-backend",
        default=None,
        help="also evaluate with this encoder backend (for prompts and catalogue) and compare "
        "(default: torch when encoder_backend or index_encoder_backend is another; '' to skip)",
    )
    parser.add_argument(
        "--reuse-reference",
        action="store_true",
        help="compare with the reference run saved in --work-dir instead of running it again",
    )
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    from movierec.embedding import settings_backend
    from movierec.evaluation.harness import Dataset, backend_comparison, run
    from movierec.evaluation.report import headline_table, write_report

    try:
        settings = load_settings(args.config)
        from movierec.runtime import tune_process

        tune_process(settings.encoder.torch_threads)
        datasets = [Dataset(args.data_dir.name, settings.replace(data_dir=args.data_dir))]
        second = args.second_ratings
        if str(second) not in ("", ".") and second.is_dir():
            datasets.append(
                Dataset(
                    second.name,
                    settings.replace(
                        data_dir=args.data_dir, ratings_csv=second / "ratings.csv", links_csv=second / "links.csv"
                    ),
                )
            )
        conversations = args.conversations if str(args.conversations) not in ("", ".") else None
        seeds = tuple(int(x) for x in args.learned_seeds.split(",") if x.strip())
        reference = args.reference_backend
        # as they run on this CPU (a torch-bf16 catalogue without native bf16 is the torch reference)
        configured = {settings_backend(settings).backend, settings_backend(settings, catalogue=True).backend}
        if reference is None:
            reference = "torch" if configured != {"torch"} else ""
        reference_report = None
        saved = args.work_dir / f"reference-{reference}.json"  # the last reference run, for --reuse-reference
        if reference and args.reuse_reference and saved.is_file():
            reference_report = json.loads(saved.read_text())
        elif reference and configured != {reference}:
            if not args.quiet:
                print(f"evaluating with the reference encoder backend ({reference}) first", file=sys.stderr)
            both = {"encoder_backend": reference, "index_encoder_backend": reference}  # prompts and catalogue
            reference_report = run(
                [Dataset(d.name, d.settings.replace(**both)) for d in datasets],
                settings.replace(**both),
                args.work_dir,
                do_tune=not args.no_tune,
                progress=not args.quiet,
                conversations=conversations,
                learned_seeds=seeds,
                groups_per_kind=args.groups_per_kind,
            )
            saved.write_text(json.dumps(reference_report, default=str))
        report = run(
            datasets,
            settings,
            args.work_dir,
            do_tune=not args.no_tune,
            progress=not args.quiet,
            conversations=conversations,
            learned_seeds=seeds,
            groups_per_kind=args.groups_per_kind,
        )
        if reference_report is not None:
            report["backends"] = backend_comparison(
                report, reference_report, settings, reference, args.work_dir, datasets[0]
            )
            report["targets"].append(report["backends"]["target"])
        path = write_report(report, args.out)
    except (MovierecError, OSError, ValueError) as e:
        print(f"movierec eval: {e}", file=sys.stderr)
        return 1
    print(headline_table(report))
    missed = [t for t in report["targets"] if not t["met"]]
    print(f"\n{len(report['targets']) - len(missed)}/{len(report['targets'])} targets met; report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
