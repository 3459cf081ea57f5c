"""FAISS inner-product indexes: exact up to a size, approximate (IVF) above it.

Up to `exact_max` vectors (setting `exact_search_max`, default 200,000) an index is exact
(`IndexFlatIP`): at that size one query reads 300 MB and takes tens of milliseconds on one core.
Above it the index is an inverted file (`IndexIVFFlat`, inner product): about 4 * sqrt(n) lists
trained by k-means on a sample, and the number of lists probed per query (nprobe) is calibrated
at build time as the smallest that finds at least `target_recall` of the exact top 100 for a
sample of queries: the queries the server will send when the builder has them (the indexer passes
prompt embeddings of everyday requests and users' taste vectors), else stored vectors with noise.
The two differ: prompts lie between the catalogue's clusters, so stored vectors understate the
probes they need. `reports/bench-scale.md` measures both at 1,000,000 movies.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import faiss
import numpy as np
import threadpoolctl

NPROBES = (4, 8, 16, 32, 64, 128, 256, 512)


@dataclass(frozen=True)
class IndexChoice:
    """What was built: kind "flat" or "ivf", lists and nprobe (IVF), measured recall@100 (IVF) and
    on what it was measured ("queries": the builder's sample of real queries; "stored": stored
    vectors with noise)."""

    kind: str
    lists: int = 0
    nprobe: int = 0
    recall_at_100: float = 1.0
    calibrated_on: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "lists": self.lists, "nprobe": self.nprobe, "recall_at_100": self.recall_at_100,
                "calibrated_on": self.calibrated_on}


def build_index(vectors: np.ndarray, exact_max: int = 200_000, target_recall: float = 0.95,
                seed: int = 0, queries: np.ndarray | None = None) -> tuple[faiss.Index, IndexChoice]:
    """An inner-product index over `vectors` float32 (n, d), rows in order (id i = row i).

    `queries` float32 (q, d): a sample of what the index will be searched with, for calibrating an
    approximate index (ignored by an exact one).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    if n <= exact_max:
        index = faiss.IndexFlatIP(d)
        if n:
            index.add(vectors)
        return index, IndexChoice("flat")
    rng = np.random.default_rng(seed)
    lists = int(2 ** round(math.log2(4 * math.sqrt(n))))
    quantizer = faiss.IndexFlatIP(d)
    ivf = faiss.IndexIVFFlat(quantizer, d, lists, faiss.METRIC_INNER_PRODUCT)
    sample = vectors[rng.choice(n, size=min(n, 64 * lists), replace=False)]
    # Training and assignment are large matrix products: every core helps here (serving keeps
    # FAISS to one thread, see movierec.runtime).
    with threadpoolctl.threadpool_limits(os.cpu_count() or 1):
        ivf.train(sample)
        ivf.add(vectors)
    nprobe, recall = calibrate_nprobe(ivf, vectors, target_recall, rng, sample_queries=queries)
    ivf.nprobe = nprobe
    calibrated_on = "stored" if queries is None or not len(queries) else "queries"
    return ivf, IndexChoice("ivf", lists, nprobe, recall, calibrated_on)


def calibrate_nprobe(index: faiss.IndexIVF, vectors: np.ndarray, target_recall: float,
                     rng: np.random.Generator, queries: int = 200, k: int = 100,
                     sample_queries: np.ndarray | None = None) -> tuple[int, float]:
    """The smallest nprobe in NPROBES whose recall@k against exact search reaches `target_recall`.

    Queries: up to `queries` rows of `sample_queries` (q, d) when given, else stored vectors with
    noise (a query is never exactly a stored vector). Returns (nprobe, recall); the largest nprobe
    tried if none reaches the target.
    """
    n, d = vectors.shape
    if sample_queries is not None and len(sample_queries):
        picked = np.asarray(sample_queries, dtype=np.float32)
        picked = picked[rng.choice(len(picked), size=min(queries, len(picked)), replace=False)]
        noisy = picked / np.maximum(np.linalg.norm(picked, axis=1, keepdims=True), 1e-12)
    else:
        picked = vectors[rng.choice(n, size=min(queries, n), replace=False)]
        noisy = picked + rng.normal(scale=0.5 / math.sqrt(d), size=picked.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    truth = exact_top(vectors, noisy, k)
    recall = 0.0
    nprobe = NPROBES[0]
    for nprobe in NPROBES:
        if nprobe > index.nlist:
            break
        index.nprobe = nprobe
        _, found = index.search(noisy, k)
        recall = recall_at(found, truth)
        if recall >= target_recall:
            break
    return nprobe, recall


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, chunk: int = 200_000) -> np.ndarray:
    """Exact top-k rows by inner product, int64 (q, k), scanning `vectors` (n, d) in chunks."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), chunk):
        scores = queries @ vectors[start:start + chunk].T                                # (q, chunk)
        keep = min(k, scores.shape[1])
        top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        best_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        best_rows = np.concatenate([best_rows, top + start], axis=1)
        if best_scores.shape[1] > k:
            order = np.argpartition(-best_scores, k - 1, axis=1)[:, :k]
            best_scores = np.take_along_axis(best_scores, order, axis=1)
            best_rows = np.take_along_axis(best_rows, order, axis=1)
    return best_rows


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of `truth` (q, k) that `found` (q, k') contains."""
    hits = [len(set(f.tolist()) & set(t.tolist())) / max(len(t), 1) for f, t in zip(found, truth)]
    return float(np.mean(hits)) if hits else 1.0


def stored_vectors(index: faiss.Index) -> np.ndarray:
    """The vectors an index holds, float32 (ntotal, d), in id order (flat or IVF-flat)."""
    if index.ntotal == 0:
        return np.zeros((0, index.d), np.float32)
    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()
    return index.reconstruct_n(0, index.ntotal)
