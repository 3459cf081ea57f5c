"""Temporal splits: each user's newest ratings are held out."""

from __future__ import annotations

import numpy as np
import pandas as pd


def temporal_split(frame: pd.DataFrame, fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, held_out): per user, the newest `fraction` of ratings (at least one) are held out.

    Ties in time are broken by movie id so that the split is deterministic.
    """
    ordered = frame.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
    size = ordered.groupby("user_id")["movie_id"].transform("size").to_numpy()
    position = ordered.groupby("user_id").cumcount().to_numpy()
    held = np.maximum(1, np.floor(size * fraction)).astype(int)
    is_held = position >= size - held
    return ordered[~is_held].reset_index(drop=True), ordered[is_held].reset_index(drop=True)
