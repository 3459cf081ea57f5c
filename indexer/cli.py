"""`movierec-index`: build a new index version from a data folder."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from movierec.diagnostics import MovierecError
from movierec.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="movierec-index", description=__doc__)
    parser.add_argument("--data-dir", type=Path, help="folder with the TMDB CSVs and ratings/links (setting data_dir)")
    parser.add_argument("--index-dir", type=Path, help="where index versions are written (setting index_dir)")
    for name in ("movies", "credits", "ratings", "links"):
        parser.add_argument(f"--{name}", type=Path, help=f"explicit path of the {name} CSV")
    parser.add_argument("--model-dir", type=Path, help="local Hugging Face model folder")
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="train the learned ranker even when the current version's model could be carried over",
    )
    parser.add_argument(
        "--no-learned", action="store_true", help="build without a learned ranker (the weighted sum serves)"
    )
    parser.add_argument(
        "--ray", action="store_true", help="embed the texts missing from the cache on Ray (setting embed_on_ray)"
    )
    parser.add_argument("--ray-address", help="an existing Ray cluster (default: a local instance for the job)")
    parser.add_argument("--ray-workers", type=int, help="embedding actors on Ray (default: one per core)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings = load_settings(
            args.config,
            data_dir=args.data_dir,
            index_dir=args.index_dir,
            movies_csv=args.movies,
            credits_csv=args.credits,
            ratings_csv=args.ratings,
            links_csv=args.links,
            model_dir=args.model_dir,
            learned_retrain_share=0.0 if args.retrain else None,
            learned_train=False if args.no_learned else None,
            embed_on_ray=True if args.ray or args.ray_address else None,
            ray_address=args.ray_address,
            ray_workers=args.ray_workers,
        )
        from movierec.indexer.build import build_index
        from movierec.runtime import tune_process

        tune_process(settings.encoder.torch_threads)
        result = build_index(settings, progress=not args.quiet)
    except (MovierecError, ValueError, OSError) as e:
        print(f"movierec-index: {e}", file=sys.stderr)
        return 1
    print(
        f"built index {result.version} in {result.seconds:.1f}s: {result.movies} movies, {result.users} users, "
        f"{result.ratings} ratings ({result.embedded} movie texts embedded, the rest from the cache); "
        f"learned ranker: {result.learned}\n"
        f"  -> {result.path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
