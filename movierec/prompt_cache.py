"""Prompt embeddings kept between requests: an LRU keyed by the normalised mood text, bounded in bytes.

People ask for the same things in the same words ("a comedy", "something scary"), so a repeated
mood skips the encoder. The key is the text with runs of whitespace made one space and cut at
the ends, and lower-cased when the tokenizer lower-cases anyway (an uncased model): the texts
that map to one key give the same token ids, so the cached vector is the one the encoder would
give. Each entry costs its vector plus the key and bookkeeping; the oldest-used go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from movierec.embedding import TextEncoder

ENTRY_OVERHEAD = 200  # bytes per entry beyond vector and key: the dict slot, the string and array headers


def normalised(text: str, lowercase: bool) -> str:
    text = " ".join(text.split())
    return text.lower() if lowercase else text


class PromptCache:
    """An encoder with an LRU of prompt embeddings in front (same interface as the encoder).

    max_bytes: the bound on what the entries hold; 0 passes every call through. `hits` and `misses`
    count texts; `on_lookup(hits, misses)` (optional) is told after each call, for metrics.
    """

    def __init__(self, encoder: TextEncoder, max_bytes: int, on_lookup: Callable[[int, int], None] | None = None):
        self.inner = encoder
        self.max_bytes = max_bytes
        self.on_lookup = on_lookup
        tokenizer = getattr(encoder, "tokenizer", None)
        self.lowercase = bool(getattr(tokenizer, "do_lower_case", False))
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None, threads: int | None = None
    ) -> np.ndarray:
        """float32 (len(texts), dimensions): cached rows where the normalised text is known, the
        encoder's for the rest (each distinct missing text once)."""
        if self.max_bytes <= 0 or not texts:
            return self.inner.encode(texts, progress, threads)
        keys = [normalised(t, self.lowercase) for t in texts]
        out = np.empty((len(texts), self.inner.dimensions), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, key in enumerate(keys):
                vector = self._entries.get(key)
                if vector is None:
                    missing.setdefault(key, []).append(i)
                else:
                    self._entries.move_to_end(key)
                    out[i] = vector
        hits = len(texts) - sum(len(rows) for rows in missing.values())
        if missing:
            order = list(missing)
            fresh = self.inner.encode([texts[missing[k][0]] for k in order], progress, threads)
            with self._lock:
                for key, vector in zip(order, fresh):
                    out[missing[key]] = vector
                    self._put(key, vector.copy())
        with self._lock:
            self.hits += hits
            self.misses += len(texts) - hits
        if self.on_lookup is not None:
            self.on_lookup(hits, len(texts) - hits)
        return out

    def _put(self, key: str, vector: np.ndarray) -> None:
        if key in self._entries:
            return
        size = self._size(key, vector)
        if size > self.max_bytes:
            return
        self._entries[key] = vector
        self._bytes += size
        while self._bytes > self.max_bytes:
            old_key, old = self._entries.popitem(last=False)
            self._bytes -= self._size(old_key, old)

    @staticmethod
    def _size(key: str, vector: np.ndarray) -> int:
        return vector.nbytes + len(key.encode()) + ENTRY_OVERHEAD
