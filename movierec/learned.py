"""A learned scorer over the ranking's signals: a small MLP, the combine stage's second phase.

Where it applies (a request of a known user with no mood and no examples: what it was trained on),
the weighted sum (movierec.combine) picks the `learned_candidates` best candidates and the MLP
re-scores them; every other request keeps the weighted sum.

Input per (request, shortlisted candidate): each signal the scorer was trained on (its `inputs`, the
signal registry's names when it was trained) twice, as combine calibrates
it over the request's whole candidate pool (the z-score; the 0..1 share for the sparse tag match)
and as its raw value (where a movie stands among the candidates, and how
strong the evidence is); a signal that does not apply is 0 in both. Then two counts from the
index's ratings, log(1 + n): how many users rated the movie, and how many movies the user rated
(how much evidence stands behind the collaborative signals on either side). A signal registered after
the scorer was trained is not among its inputs: the scorer ignores it (the weighted sum still counts
it). Shapes:
    features  float32 (B, K, F), F = n_features(len(inputs)) = 2 * len(inputs) + 2
    scores    float32 (B, K)

Training is listwise (train_scorer): for each training user, a softmax over the user's shortlist,
pushed towards the movies the user liked *after* the ratings the shortlist was built from
(movierec.indexer.learn builds them). Serving is a numpy forward of the trained weights, so the
ranking needs no torch at request time.

Explaining a score: a ReLU network is linear where its units keep their on/off pattern, so a score
is exactly gradient . input + the network's offset there. A signal's part is the gradient times
its two features; `BASELINE` is the rest (the offset and the two rating counts).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from movierec.batch import Batch, Ranked, Scored

# The inputs of a scorer saved before scorers kept their inputs' names, in feature order.
UNNAMED_INPUTS = ("prompt", "match", "genre_fit", "collaborative", "community", "taste", "quality", "popularity")
# The name of a learned score's part that no signal explains (see the module docstring).
BASELINE = "baseline"
MODEL_FILE = "learned.npz"


def n_features(inputs: int) -> int:
    """The width F of the features of a scorer over this many signals."""
    return 2 * inputs + 2


def candidate_features(
    inputs: Sequence[str],
    calibrated: dict[str, np.ndarray],
    values: dict[str, np.ndarray],
    valid: np.ndarray,
    movie_ratings: np.ndarray,
    user_ratings: np.ndarray,
    applies: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Features float32 (B, K, F) of K listed candidates per request over the signals `inputs` (in
    feature order; one absent from `values` is 0), from each signal as
    combine calibrates it over the request's whole pool (name -> (B, K): the z-score, or the 0..1 share
    of a sparse signal) and raw (name -> (B, K)), the valid mask bool (B, K), each candidate's rating
    count (B, K) and each request's user's rating count (B,) (0 for anonymous). `applies` (name -> bool
    (B,)): a signal is 0 for the requests it does not apply to, whatever the batch computed for them
    (a batch with one mood computes the prompt signal for every row)."""
    b, k = valid.shape
    out = np.zeros((b, k, n_features(len(inputs))), np.float32)
    for s, name in enumerate(inputs):
        if name in values:
            on = np.ones(b, bool) if applies is None or name not in applies else np.asarray(applies[name], bool)
            out[:, :, s] = np.where(on[:, None], calibrated[name], 0)
            out[:, :, len(inputs) + s] = np.where(on[:, None], values[name], 0)
    out[:, :, -2] = np.log1p(movie_ratings.astype(np.float32))
    out[:, :, -1] = np.log1p(np.asarray(user_ratings, np.float32))[:, None]
    out[~valid] = 0
    return out


def listed(arrays: dict[str, np.ndarray], rows: np.ndarray, positions: np.ndarray) -> dict[str, np.ndarray]:
    """Each (B, C) array's entries at `positions` int (R, K) of `rows` int (R,): name -> (R, K)."""
    width = next(iter(arrays.values())).shape[1] if arrays else 0
    flat = (rows[:, None] * width + positions).ravel()
    return {name: a.ravel()[flat].reshape(positions.shape) for name, a in arrays.items()}


@dataclass
class LearnedScorer:
    """An MLP's weights: layers[i] = (W float32 (in, out), b float32 (out,)), ReLU between layers, over
    the features of the signals `inputs` (in feature order)."""

    layers: list[tuple[np.ndarray, np.ndarray]]
    curve: list[dict[str, float]] = field(default_factory=list)  # per epoch: train and validation loss
    inputs: tuple[str, ...] = UNNAMED_INPUTS

    def score(self, features: np.ndarray) -> np.ndarray:
        """features float32 (B, C, F) -> scores float32 (B, C)."""
        h = features.reshape(-1, features.shape[-1])
        for i, (w, bias) in enumerate(self.layers):
            h = h @ w
            h += bias
            if i < len(self.layers) - 1:
                np.maximum(h, 0, out=h)
        return h.reshape(features.shape[:2])

    def gradients(self, features: np.ndarray) -> np.ndarray:
        """d score / d features at each row: features float32 (R, F) -> float32 (R, F). Exact within the
        region where the ReLUs keep their pattern, so score = (gradients * features).sum(1) + offset."""
        activations = [features]
        h = features
        for w, bias in self.layers[:-1]:
            h = np.maximum(h @ w + bias, 0)
            activations.append(h)
        g = np.broadcast_to(self.layers[-1][0][:, 0], (len(features), self.layers[-1][0].shape[0]))
        for (w, _), h in zip(reversed(self.layers[:-1]), reversed(activations[1:])):
            g = (g * (h > 0)) @ w.T
        return np.ascontiguousarray(g, dtype=np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights as named arrays (for saving beside the index)."""
        out: dict[str, np.ndarray] = {}
        for i, (w, bias) in enumerate(self.layers):
            out[f"w{i}"], out[f"b{i}"] = w, bias
        out["inputs"] = np.array(self.inputs, dtype=np.str_)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LearnedScorer:
        inputs = tuple(str(n) for n in arrays["inputs"]) if "inputs" in arrays else UNNAMED_INPUTS
        layers: list[tuple[np.ndarray, np.ndarray]] = []
        for i in range(sum(1 for name in arrays if name.startswith("w"))):
            w, bias = np.asarray(arrays[f"w{i}"], np.float32), np.asarray(arrays[f"b{i}"], np.float32)
            if (layers and layers[-1][0].shape[1] != w.shape[0]) or w.shape[1] != bias.shape[0]:
                raise ValueError(f"layer {i} of the learned scorer does not fit the one before it")
            if not (np.isfinite(w).all() and np.isfinite(bias).all()):
                raise ValueError(f"layer {i} of the learned scorer has weights that are not finite numbers")
            layers.append((w, bias))
        if not layers or layers[0][0].shape[0] != n_features(len(inputs)) or layers[-1][0].shape[1] != 1:
            raise ValueError("the learned scorer's weights do not match its features")
        return cls(layers, inputs=inputs)


def write_scorer(path: Path, scorer: LearnedScorer) -> None:
    """Save the weights (npz) at `path`."""
    with open(path, "wb") as f:
        np.savez(f, **scorer.arrays())  # type: ignore[arg-type]  # numpy's stub types the keywords as allow_pickle


def read_scorer(path: Path) -> LearnedScorer:
    """Load weights saved by write_scorer; ValueError (or OSError) when the file is not a usable model."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return LearnedScorer.from_arrays({k: arrays[k] for k in arrays.files})
    except (KeyError, IndexError, EOFError, ValueError, AttributeError, TypeError, zipfile.BadZipFile) as e:
        raise ValueError(f"not a learned scorer's weights ({e})") from e


def in_domain(batch: Batch) -> np.ndarray:
    """bool (B,): the requests the scorer was trained on: a known user, no mood, no examples."""
    return batch.has_user & ~batch.has_prompt & ~batch.has_examples


def second_phase(
    scorer: LearnedScorer,
    batch: Batch,
    scored: Scored,
    movie_ratings: np.ndarray,
    shortlist: int,
    rows: np.ndarray | None = None,
) -> dict[int, Ranked]:
    """Re-score the in-domain requests' `shortlist` best candidates (by the weighted sum) with the MLP,
    and explain them: request position in the batch -> its ranked list (best first; each signal's part
    of the score, plus BASELINE; they sum to the score). The other requests are left to explain.

    scored: the combine stage's first phase; movie_ratings int (n_movies,): ratings per movie in the
    index; rows: the positions to consider (None: all).
    """
    rows = in_domain_rows(batch, rows)
    if not len(rows):
        return {}
    limits = [batch.requests[i].limit for i in rows]
    # The shortlist holds at least as many as the longest list asked for.
    positions, keep, features, scores, movies = rescore(
        scorer, batch, scored, movie_ratings, max(shortlist, *limits), rows
    )
    # The top `limit` of each request, with each signal's part (gradient x its two features).
    top = np.argsort(-scores, axis=1, kind="stable")[:, : max(limits)]  # (R, L)
    chosen = features[np.arange(len(rows))[:, None], top]  # (R, L, F)
    flat = chosen.reshape(-1, chosen.shape[-1])
    contribution = (scorer.gradients(flat) * flat).reshape(chosen.shape)  # (R, L, F)
    best = np.take_along_axis(scores, top, axis=1)  # (R, L)
    movies = np.take_along_axis(movies, top, axis=1)
    inputs = scorer.inputs
    n_signals = len(inputs)
    applies = scored.applies
    shown = np.array([[name in applies and bool(applies[name][i]) for name in inputs] for i in rows])  # (R, S)
    per_signal = (contribution[:, :, :n_signals] + contribution[:, :, n_signals : 2 * n_signals]) * shown[:, None, :]
    baseline = best - per_signal.sum(axis=2)  # (R, L)
    available = np.isfinite(best).sum(axis=1)
    out: dict[int, Ranked] = {}
    for r, i in enumerate(rows):
        n = min(limits[r], int(available[r]))
        signals = {name: per_signal[r, :n, s] for s, name in enumerate(inputs) if shown[r, s]}
        signals[BASELINE] = baseline[r, :n]
        out[int(i)] = Ranked(rows=movies[r, :n], scores=best[r, :n], signals=signals)
    return out


def in_domain_rows(batch: Batch, rows: np.ndarray | None = None) -> np.ndarray:
    """The positions among `rows` (None: all) of the requests the scorer applies to."""
    domain = in_domain(batch)
    return np.flatnonzero(domain) if rows is None else np.asarray(rows, np.int64)[domain[rows]]


def rescore(
    scorer: LearnedScorer,
    batch: Batch,
    scored: Scored,
    movie_ratings: np.ndarray,
    k: int,
    rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The MLP's scores for the k best candidates (by the weighted sum) of the requests at `rows` int (R,):
    (positions int64 (R, K) into the candidates, keep bool (R, K), features float32 (R, K, F),
    scores float32 (R, K), -inf where not kept; movie rows int64 (R, K))."""
    values, calibrated, applies = scored.values, scored.calibrated, scored.applies
    positions, keep = shortlist_of(scored.total[rows], k)  # (R, K)
    inputs = [n for n in scorer.inputs if n in values]
    gathered = listed(
        {
            "candidates": batch.candidates,
            **{f"z {n}": calibrated[n] for n in inputs},
            **{f"raw {n}": values[n] for n in inputs},
        },
        rows,
        positions,
    )
    user_ratings = np.array([len(batch.requests[i].user.rated_rows) for i in rows])  # type: ignore[union-attr]
    features = candidate_features(
        scorer.inputs,
        {n: gathered[f"z {n}"] for n in inputs},
        {n: gathered[f"raw {n}"] for n in inputs},
        keep,
        movie_ratings[gathered["candidates"]],
        user_ratings,
        {n: applies[n][rows] for n in inputs if n in applies},
    )  # (R, K, F)
    scores = np.where(keep, scorer.score(features), -np.inf).astype(np.float32)
    return positions, keep, features, scores, gathered["candidates"]


def reorder_shortlists(
    scorer: LearnedScorer,
    batch: Batch,
    scored: Scored,
    movie_ratings: np.ndarray,
    shortlist: int,
    rows: np.ndarray,
) -> np.ndarray:
    """The weighted sum (B, C) with the in-domain requests among `rows` reordered by the MLP: each one's
    `shortlist` best values are dealt out again in the order the MLP ranks those candidates, so the
    values keep the weighted sum's scale and the order within the shortlist is the learned one (what
    a group's aggregation reads for its members). A copy; the other rows unchanged."""
    total = scored.total
    out = total.copy()
    rows = in_domain_rows(batch, rows)
    if not len(rows):
        return out
    positions, keep, _, scores, _ = rescore(scorer, batch, scored, movie_ratings, shortlist, rows)
    for r, i in enumerate(rows):
        kept = positions[r][keep[r]]
        if not len(kept):
            continue
        by_learned = kept[np.argsort(-scores[r][keep[r]], kind="stable")]
        out[i, by_learned] = np.sort(total[i, kept])[::-1]
    return out


def shortlist_of(total: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions int64 (R, K) of each row's k best entries of total (R, C) (-inf: not a candidate), in
    no particular order, and keep bool (R, K): False where a row has fewer than k candidates. K = min(k, C)."""
    width = total.shape[1]
    k = min(k, width)
    positions = (
        np.argpartition(total, width - k, axis=1)[:, width - k :]
        if k < width
        else np.broadcast_to(np.arange(width), total.shape).copy()
    )
    return positions, np.isfinite(np.take_along_axis(total, positions, axis=1))


@contextmanager
def one_torch_thread(torch: Any) -> Iterator[None]:
    """torch on one thread inside the block; the caller's count restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_scorer(
    inputs: Sequence[str],
    features: np.ndarray,
    valid: np.ndarray,
    positive: np.ndarray,
    hidden: tuple[int, ...] = (32, 16),
    epochs: int = 60,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    negatives: int | None = None,
) -> LearnedScorer:
    """Fit the MLP with a listwise softmax loss.

    inputs: the signals the features are of (candidate_features); features float32 (U, C, F); valid
    bool (U, C); positive bool (U, C): the candidates the user
    liked later. Users without a valid positive are left out. A fifth of the users (seeded) is held
    out for the validation curve (loss over whole lists; the training loss beside it is over as
    many training users' whole lists). `negatives`: each training step's
    softmax runs over a user's positives and this many of their other candidates, drawn afresh
    every step (None: the whole list). `progress(epoch)` after each epoch. Deterministic for a seed.
    """
    import torch

    keep = (positive & valid).any(axis=1)
    x = torch.tensor(features[keep])
    y = torch.tensor((positive & valid)[keep], dtype=torch.float32)
    mask = torch.tensor(valid[keep])
    generator = torch.Generator().manual_seed(seed)  # the split and the batch order
    order = torch.randperm(len(x), generator=generator)
    cut = max(1, int(len(x) * 0.8)) if len(x) > 1 else len(x)
    train_rows, validation_rows = order[:cut], order[cut:]
    # The curve's training loss is over the whole lists of as many training users as are held out.
    curve_rows = train_rows[: max(len(validation_rows), 1)]
    curve: list[dict[str, float]] = []
    # One thread: the network is small, and a reindex runs beside a busy server, where a second
    # OpenMP thread spinning for a core the server holds made each epoch an order of magnitude slower.
    # The initial weights are seeded without touching the caller's RNG.
    with one_torch_thread(torch), torch.random.fork_rng():
        torch.manual_seed(seed)
        sizes = (features.shape[-1], *hidden, 1)
        modules: list[torch.nn.Module] = []
        for i in range(len(sizes) - 1):
            modules.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                modules.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*modules)
        optimiser = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)

        def loss_of(xs: torch.Tensor, ms: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
            scores = model(xs).squeeze(-1).masked_fill(~ms, -1e9)
            log_p = torch.log_softmax(scores, dim=1)
            return -((log_p * ys).sum(1) / ys.sum(1)).mean()

        def whole(rows: torch.Tensor) -> torch.Tensor:
            return loss_of(x[rows], mask[rows], y[rows])

        def sampled(rows: torch.Tensor) -> torch.Tensor:
            if negatives is None:
                return whole(rows)
            # Positives first, then the other valid candidates in random order, invalid ones last.
            keys = torch.rand(mask[rows].shape, generator=generator)
            keys = keys.masked_fill(~mask[rows], 3.0).masked_fill(y[rows] > 0, -1.0)
            width = min(keys.shape[1], negatives + int(y[rows].sum(1).max()))
            picked = keys.argsort(dim=1)[:, :width]
            xs = x[rows].gather(1, picked[:, :, None].expand(-1, -1, x.shape[-1]))
            return loss_of(xs, mask[rows].gather(1, picked), y[rows].gather(1, picked))

        for epoch in range(epochs):
            model.train()
            for rows in train_rows[torch.randperm(len(train_rows), generator=generator)].split(64):
                optimiser.zero_grad()
                loss = sampled(rows)
                loss.backward()
                optimiser.step()
            with torch.no_grad():
                curve.append(
                    {
                        "epoch": epoch + 1,
                        "train": float(whole(curve_rows)),
                        "validation": float(whole(validation_rows)) if len(validation_rows) else float("nan"),
                    }
                )
            if progress is not None:
                progress(epoch + 1)
    linear = [m for m in model if isinstance(m, torch.nn.Linear)]
    layers = [
        (m.weight.detach().numpy().T.astype(np.float32).copy(), m.bias.detach().numpy().astype(np.float32).copy())
        for m in linear
    ]
    return LearnedScorer(layers, curve, tuple(inputs))
