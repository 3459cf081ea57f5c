"""Movie embeddings cached by content hash, so a reindex re-embeds only changed texts.

One SQLite file per model fingerprint: key = sha256 of the embedded text, value = float32 bytes.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    def __init__(self, cache_dir: Path, fingerprint: str, dimensions: int):
        cache_dir.mkdir(parents=True, exist_ok=True)
        self.path = cache_dir / f"embeddings-{fingerprint}.sqlite"
        self.dimensions = dimensions
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS embedding (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")

    def get_many(self, texts: Sequence[str]) -> dict[int, np.ndarray]:
        """Cached vectors by position in `texts`: {i: float32 (d,)} for the texts found."""
        keys = [text_key(t) for t in texts]
        position: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            position.setdefault(k, []).append(i)
        found: dict[int, np.ndarray] = {}
        unique = list(position)
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM embedding WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )
            for key, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (self.dimensions,):
                    for i in position[key]:
                        found[i] = vector
        return found

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store float32 (n, d) vectors for `texts`."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embedding (key, vector) VALUES (?, ?)",
                [(text_key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vectors)],
            )

    def close(self) -> None:
        self._db.close()
