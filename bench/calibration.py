"""IVF probes calibrated on stored vectors vs on what the server sends, on the real geometry.

    python -m movierec.bench.calibration --index-dir var/index \
        --conversations ../shared/data/redial/dev.jsonl [--copies 19]

The catalogue is an index's real movie embeddings plus `copies` noisy copies of each (the
geometry of a larger catalogue of real movies); the IVF index is built with the production rules
(movierec.vectorindex) twice, its nprobe calibrated once on stored vectors with noise and once on
the indexer's calibration queries (generated everyday requests and users' taste vectors). Both are
then measured on held-out real prompts, which play no part in either calibration: the first
messages of ReDial conversations and generated requests of another seed. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def run(index_dir: Path, conversations: Path, copies: int, seed: int = 0) -> dict[str, Any]:
    from movierec.artifact import load_artifact
    from movierec.bench.scale import held_out_prompts, real_geometry
    from movierec.embedding import Encoder
    from movierec.indexer.build import calibration_queries
    from movierec.settings import load_settings
    from movierec.vectorindex import build_index, exact_top, recall_at

    artifact = load_artifact(index_dir)
    movies = artifact.movie_vectors.astype(np.float32)
    catalogue = real_geometry(movies, len(movies) * (copies + 1), np.random.default_rng(seed))
    settings = load_settings()
    encoder = Encoder(
        settings.encoder.model_dir,
        settings.encoder.max_seq_length,
        settings.encoder.embed_batch_size,
        settings.encoder.embed_batch_tokens,
    )
    held_out, _ = held_out_prompts(encoder, conversations, seed)
    truth = exact_top(catalogue, held_out, 100)
    result: dict[str, Any] = {"vectors": len(catalogue), "held_out_queries": len(held_out)}
    for name, queries in (("stored", None), ("queries", calibration_queries(encoder, artifact.user_vectors, seed))):
        started = time.perf_counter()
        index, choice = build_index(catalogue, exact_max=1000, queries=queries)
        result[name] = {
            **choice.as_dict(),
            "build_s": time.perf_counter() - started,
            "held_out_recall_at_100": recall_at(index.search(held_out, 100)[1], truth),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="movierec-bench-calibration", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, required=True, help="an index of real movies (its vectors)")
    parser.add_argument("--conversations", type=Path, default=Path("../shared/data/redial/dev.jsonl"))
    parser.add_argument("--copies", type=int, default=19)
    args = parser.parse_args(argv)
    json.dump(run(args.index_dir, args.conversations, args.copies), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
