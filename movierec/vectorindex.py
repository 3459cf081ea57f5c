"""FAISS inner-product indexes: exact up to a size, approximate (IVF) above it.

Up to `exact_max` vectors (setting `exact_search_max`, default 200,000) an index is exact
(`IndexFlatIP`): at that size one query reads 300 MB and takes tens of milliseconds on one core.
Above it the index is an inverted file (`IndexIVFFlat`, inner product): about 4 * sqrt(n) lists
trained by k-means on a sample, and the number of lists probed per query (nprobe) is calibrated
at build time as the smallest that finds at least `target_recall` (CALIBRATION_RECALL) of the
exact top 100 for a sample of queries: the queries the server will send when the builder has them (the indexer passes
prompt embeddings of everyday requests and users' taste vectors), else stored vectors with noise.
The two differ: prompts lie between the catalogue's clusters, so stored vectors understate the
probes they need. `reports/bench-scale.md` measures both at 1,000,000 movies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np
import threadpoolctl

from movierec.hardware import usable_cores

NPROBES = (4, 8, 16, 32, 64, 128, 256, 512)
# The recall@100 the calibration asks of its sample queries. Above the 0.95 wanted of real requests:
# the requests a server will see are not the calibration's (they are held out), and they need more
# probes than the sample that picked the setting (reports/bench-scale.md measures both).
CALIBRATION_RECALL = 0.97
QueryGroups = np.ndarray | list[np.ndarray]  # one array (q, d) of queries, or several groups of them


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
        return {
            "kind": self.kind,
            "lists": self.lists,
            "nprobe": self.nprobe,
            "recall_at_100": self.recall_at_100,
            "calibrated_on": self.calibrated_on,
        }


def build_index(
    vectors: np.ndarray,
    exact_max: int = 200_000,
    target_recall: float = CALIBRATION_RECALL,
    seed: int = 0,
    queries: QueryGroups | None = None,
) -> tuple[faiss.Index, IndexChoice]:
    """An inner-product index over `vectors` float32 (n, d), rows in order (id i = row i).

    `queries`: a sample of what the index will be searched with, float32 (q, d) or a list of such
    groups (each must keep the target recall), for calibrating an approximate index (ignored by an
    exact one).
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
    with threadpoolctl.threadpool_limits(usable_cores()):
        ivf.train(sample)
        ivf.add(vectors)
    nprobe, recall = calibrate_nprobe(ivf, vectors, target_recall, rng, sample_queries=queries)
    ivf.nprobe = nprobe
    calibrated_on = "queries" if _groups(queries) else "stored"
    return ivf, IndexChoice("ivf", lists, nprobe, recall, calibrated_on)


def calibrate_nprobe(
    index: faiss.IndexIVF,
    vectors: np.ndarray,
    target_recall: float,
    rng: np.random.Generator,
    queries: int = 200,
    k: int = 100,
    sample_queries: QueryGroups | None = None,
) -> tuple[int, float]:
    """The smallest nprobe in NPROBES whose recall@k against exact search reaches `target_recall`
    for every group of queries (the worst group's recall decides).

    Groups: `sample_queries`, an array (q, d) or a list of them (e.g. prompts and taste vectors,
    which need different probes), up to `queries` rows of each; without them, one group of stored
    vectors with noise (a query is never exactly a stored vector). Returns (nprobe, the worst
    group's recall); the largest nprobe tried if none reaches the target.
    """
    n, d = vectors.shape
    groups = _groups(sample_queries)
    if groups:
        picked = [g[rng.choice(len(g), size=min(queries, len(g)), replace=False)] for g in groups]
        probes = [p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12) for p in picked]
    else:
        stored = vectors[rng.choice(n, size=min(queries, n), replace=False)]
        noisy = stored + rng.normal(scale=0.5 / math.sqrt(d), size=stored.shape).astype(np.float32)
        probes = [noisy / np.linalg.norm(noisy, axis=1, keepdims=True)]
    truths = [exact_top(vectors, p, k) for p in probes]
    recall = 0.0
    nprobe = NPROBES[0]
    for nprobe in NPROBES:
        if nprobe > index.nlist:
            break
        index.nprobe = nprobe
        recall = min(recall_at(index.search(p, k)[1], t) for p, t in zip(probes, truths))
        if recall >= target_recall:
            break
    return nprobe, recall


def _groups(queries: QueryGroups | None) -> list[np.ndarray]:
    """The non-empty query groups, float32."""
    listed = [queries] if isinstance(queries, np.ndarray) else list(queries or [])
    return [np.asarray(g, dtype=np.float32) for g in listed if len(g)]


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, chunk: int = 200_000) -> np.ndarray:
    """Exact top-k rows by inner product, int64 (q, k), scanning `vectors` (n, d) in chunks."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), chunk):
        scores = queries @ vectors[start : start + chunk].T  # (q, chunk)
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
