"""A learned scorer over the ranking's signals: a small MLP that replaces the weighted sum in combine.

Input per (request, candidate): each signal of `FEATURES` twice, as its z-score over the request's
valid candidates and as its raw value (so the model sees both where a movie stands in this pool
and how strong the evidence is); a signal that does not apply is 0 in both. Then two counts from
the index's ratings, log(1 + n): how many users rated the movie, and how many movies the user rated
(how much evidence stands behind the collaborative signals on either side). Shapes:
    features  float32 (B, C, N_FEATURES), N_FEATURES = 2 * len(FEATURES) + 2
    scores    float32 (B, C)

Training is listwise: for each training user, a softmax over the user's candidate pool, pushed
towards the movies the user liked *after* the ratings the pool was built from (the caller builds
the pool from earlier ratings only; see movierec.evaluation). Serving is a numpy forward of the
trained weights, so the ranking needs no torch at request time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from movierec.combine import standardise

# The signals the scorer reads, in feature order.
FEATURES = ("prompt", "match", "genre_fit", "collaborative", "community", "taste", "quality", "popularity")
N_FEATURES = 2 * len(FEATURES) + 2


def candidate_features(values: dict[str, np.ndarray], valid: np.ndarray, movie_ratings: np.ndarray,
                       user_ratings: np.ndarray) -> np.ndarray:
    """Raw signal values (name -> (B, C)), the valid mask bool (B, C), each candidate's rating count
    (B, C) and each request's user's rating count (B,) (0 for anonymous) -> features float32 (B, C, N_FEATURES)."""
    b, c = valid.shape
    raw = np.stack([values[n] if n in values else np.zeros((b, c), np.float32) for n in FEATURES])  # (S, B, C)
    counts = np.stack([np.log1p(movie_ratings.astype(np.float32)),
                       np.broadcast_to(np.log1p(np.asarray(user_ratings, np.float32))[:, None], (b, c))])  # (2, B, C)
    out = np.concatenate([standardise(raw, valid), raw.astype(np.float32), counts], axis=0).transpose(1, 2, 0)
    return np.where(valid[:, :, None], out, 0).astype(np.float32)


@dataclass
class LearnedScorer:
    """An MLP's weights: layers[i] = (W float32 (in, out), b float32 (out,)), ReLU between layers."""

    layers: list[tuple[np.ndarray, np.ndarray]]
    curve: list[dict[str, float]] = field(default_factory=list)  # per epoch: train and validation loss

    def score(self, features: np.ndarray) -> np.ndarray:
        """features float32 (B, C, F) -> scores float32 (B, C)."""
        h = features.reshape(-1, features.shape[-1])
        for i, (w, bias) in enumerate(self.layers):
            h = h @ w + bias
            if i < len(self.layers) - 1:
                np.maximum(h, 0, out=h)
        return h.reshape(features.shape[:2]).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """The weights as named arrays (for saving beside the index)."""
        out: dict[str, np.ndarray] = {}
        for i, (w, bias) in enumerate(self.layers):
            out[f"w{i}"], out[f"b{i}"] = w, bias
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LearnedScorer:
        layers = []
        for i in range(len(arrays) // 2):
            w, bias = np.asarray(arrays[f"w{i}"], np.float32), np.asarray(arrays[f"b{i}"], np.float32)
            if (layers and layers[-1][0].shape[1] != w.shape[0]) or w.shape[1] != bias.shape[0]:
                raise ValueError(f"layer {i} of the learned scorer does not fit the one before it")
            layers.append((w, bias))
        if not layers or layers[0][0].shape[0] != N_FEATURES or layers[-1][0].shape[1] != 1:
            raise ValueError("the learned scorer's weights do not match its features")
        return cls(layers)


def train_scorer(features: np.ndarray, valid: np.ndarray, positive: np.ndarray, hidden: tuple[int, ...] = (32, 16),
                 epochs: int = 60, seed: int = 0, progress: Callable[[int], None] | None = None) -> LearnedScorer:
    """Fit the MLP with a listwise softmax loss.

    features float32 (U, C, F); valid bool (U, C); positive bool (U, C): the candidates the user
    liked later. Users without a valid positive are left out. A fifth of the users (seeded) is held
    out for the validation curve. `progress(epoch)` after each epoch. Deterministic for a seed.
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
    curve: list[dict[str, float]] = []
    with torch.random.fork_rng():  # the initial weights are seeded without touching the caller's RNG
        torch.manual_seed(seed)
        sizes = (features.shape[-1], *hidden, 1)
        modules: list[torch.nn.Module] = []
        for i in range(len(sizes) - 1):
            modules.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                modules.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*modules)
        optimiser = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)

        def loss_of(rows: torch.Tensor) -> torch.Tensor:
            scores = model(x[rows]).squeeze(-1).masked_fill(~mask[rows], -1e9)
            log_p = torch.log_softmax(scores, dim=1)
            return -((log_p * y[rows]).sum(1) / y[rows].sum(1)).mean()

        for epoch in range(epochs):
            model.train()
            for rows in train_rows[torch.randperm(len(train_rows), generator=generator)].split(64):
                optimiser.zero_grad()
                loss = loss_of(rows)
                loss.backward()
                optimiser.step()
            with torch.no_grad():
                curve.append({"epoch": epoch + 1, "train": float(loss_of(train_rows)),
                              "validation": float(loss_of(validation_rows)) if len(validation_rows) else float("nan")})
            if progress is not None:
                progress(epoch + 1)
    linear = [m for m in model if isinstance(m, torch.nn.Linear)]
    layers = [(m.weight.detach().numpy().T.astype(np.float32).copy(), m.bias.detach().numpy().astype(np.float32).copy())
              for m in linear]
    return LearnedScorer(layers, curve)
