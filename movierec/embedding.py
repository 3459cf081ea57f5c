"""The sentence encoder: a local BERT-family model, mean pooling, L2-normalised vectors.

Nothing is downloaded: the model is loaded from a local folder with `local_files_only=True`
and the Hugging Face hub is switched off before transformers is imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from movierec.diagnostics import ArtifactError
from movierec.runtime import apply_torch_threads

# Guard rails: this process never talks to a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def model_fingerprint(model_dir: Path) -> str:
    """A short hash of the model's config and weights: embeddings are only comparable under one fingerprint."""
    h = hashlib.sha256()
    for name in sorted(p.name for p in model_dir.iterdir() if p.is_file()):
        if name.endswith((".json", ".txt", ".safetensors", ".bin")):
            h.update(name.encode())
            with open(model_dir / name, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]


class Encoder:
    """Embeds texts into unit vectors with a local Hugging Face model.

    `encode(texts)` returns float32 array of shape (len(texts), dimensions), each row L2-normalised.
    Safe to call from several threads: tokenizing is serialised (the fast tokenizer is not
    thread-safe), forwards may run side by side, each with the torch thread count it asks for.
    """

    def __init__(self, model_dir: Path, max_seq_length: int = 256, batch_size: int = 64,
                 batch_tokens: int = 4096):
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if not (model_dir / "config.json").is_file():
            raise ArtifactError(f"{model_dir}: not a Hugging Face model folder (no config.json)")
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        apply_torch_threads()
        self._torch = torch
        self.model_dir = model_dir
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
        self.dimensions = int(self.model.config.hidden_size)
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.name = _model_name(model_dir)
        self._tokenizer_lock = threading.Lock()

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None,
               threads: int | None = None) -> np.ndarray:
        """Embed `texts` -> float32 array (n, dimensions), rows of unit length.

        Texts are sorted by token count and cut into forwards of at most `batch_size` texts and
        `batch_tokens` padded tokens: short prompts share one forward, long movie texts go in
        smaller ones (faster per text here: 25 vs 21 texts/s at 256 tokens). `progress(k)` is
        called with the number of texts finished after each forward. `threads` sets torch's thread
        count for this call (the caller keeps concurrent calls from oversubscribing the cores).
        """
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        torch = self._torch
        with self._tokenizer_lock:
            tokens = self.tokenizer(list(texts), truncation=True, max_length=self.max_seq_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
        if threads is not None:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            for batch in self._batches(order, [len(t) for t in tokens]):
                with self._tokenizer_lock:
                    padded = self.tokenizer.pad({"input_ids": [tokens[i] for i in batch]}, return_tensors="pt")
                hidden = self.model(**padded).last_hidden_state                 # (b, t, d)
                mask = padded["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, t, 1)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[batch] = pooled.numpy()
                if progress is not None:
                    progress(len(batch))
        return out

    def _batches(self, order: list[int], lengths: list[int]) -> list[list[int]]:
        """Cut `order` (ascending length) into runs within the count and padded-token budgets."""
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            if current and (len(current) >= self.batch_size or
                            (len(current) + 1) * lengths[i] > max(self.batch_tokens, lengths[i])):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches


class EncoderOnDemand:
    """An Encoder's identity (name, folder, dimensions) without loading the model, which loads on
    the first `encode`: a reindex whose texts are all cached never imports torch (~3 s saved)."""

    def __init__(self, model_dir: Path, max_seq_length: int = 256, batch_size: int = 64, batch_tokens: int = 4096):
        try:
            config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ArtifactError(f"{model_dir}: not a Hugging Face model folder (config.json: {e})") from e
        self.model_dir = model_dir
        self.max_seq_length = max_seq_length
        self.dimensions = int(config["hidden_size"])
        self.name = _model_name(model_dir)
        self._arguments = (model_dir, max_seq_length, batch_size, batch_tokens)
        self._encoder: Encoder | None = None

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None,
               threads: int | None = None) -> np.ndarray:
        if self._encoder is None:
            self._encoder = Encoder(*self._arguments)
        return self._encoder.encode(texts, progress, threads)


def _model_name(model_dir: Path) -> str:
    """A readable model name: the package name for a model shipped inside a package, else the folder name."""
    model_dir = model_dir.resolve()
    if model_dir.name == "model" and model_dir.parent.name:
        return model_dir.parent.name.replace("_", "-")
    return model_dir.name
