"""The naive peer: the same model and FAISS indexes behind a plain gRPC server, one forward per request.

This is the design a user would write first, and the benchmark's point of comparison: every
request tokenizes and embeds its own prompt in the gRPC worker thread (no batching, no thread
tuning), then ranks as the original design did (the 500 movies nearest the prompt, the 50 users
nearest the prompt, a product of the two, averaged over the users).

    python -m movierec.bench.naive --index-dir var/index --address 127.0.0.1:50052
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np

from movierec.artifact import load_artifact
from movierec.settings import load_settings
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc


class NaiveRecommender(pb_grpc.RecommenderServicer):
    def __init__(self, index_dir: Path, model_dir: Path):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        self.index = load_artifact(index_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    def embed(self, prompt: str) -> np.ndarray:
        """One prompt -> float32 (1, d), mean-pooled and unit length (as the real encoder)."""
        torch = self.torch
        with torch.inference_mode():
            tokens = self.tokenizer([prompt], truncation=True, max_length=256, return_tensors="pt")
            hidden = self.model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1)
        return pooled.numpy()

    def Recommend(self, request: pb.RecommendRequest, context: grpc.ServicerContext) -> pb.RecommendResponse:
        index = self.index
        query = self.embed(request.prompt or "a movie")
        _, movies = index.movie_index.search(query, min(500, index.movie_index.ntotal))
        _, users = index.user_index.search(query, min(50, index.user_index.ntotal))
        candidates = movies[0][movies[0] >= 0]
        scores = index.movie_vectors[candidates] @ index.user_vectors[users[0][users[0] >= 0]].T  # (500, 50)
        ranking = np.argsort(-scores.mean(axis=1))[: request.limit or 10]
        return pb.RecommendResponse(
            index_version=index.version,
            movies=[
                pb.ScoredMovie(
                    movie_id=index.movies[r].movie_id,
                    title=index.movies[r].title,
                    year=index.movies[r].year,
                    genres=list(index.movies[r].genres),
                    score=float(scores[j].mean()),
                )
                for j, r in zip(ranking, candidates[ranking])
            ],
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="movierec-naive-peer", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args(argv)
    settings = load_settings()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers))
    naive = NaiveRecommender(args.index_dir, settings.encoder.model_dir)  # type: ignore[abstract]  # serves Recommend only
    pb_grpc.add_RecommenderServicer_to_server(naive, server)
    server.add_insecure_port(args.address)
    server.start()
    print(f"naive peer listening on {args.address}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    server.stop(grace=2).wait(3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
