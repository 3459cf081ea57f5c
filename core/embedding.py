"""The sentence encoder: a local BERT-family model, mean pooling, L2-normalised vectors.

Nothing is downloaded: the model is loaded from a local folder with `local_files_only=True`
and the Hugging Face hub is switched off before transformers is imported.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from movierec.diagnostics import ArtifactError

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
    Safe to call from several threads (calls are serialised: one forward at a time uses both cores).
    """

    def __init__(self, model_dir: Path, max_seq_length: int = 256, batch_size: int = 64):
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if not (model_dir / "config.json").is_file():
            raise ArtifactError(f"{model_dir}: not a Hugging Face model folder (no config.json)")
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self._torch = torch
        self.model_dir = model_dir
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
        self.dimensions = int(self.model.config.hidden_size)
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.name = _model_name(model_dir)
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Embed `texts` -> float32 array (n, dimensions), rows of unit length.

        Texts are sorted by length so that each batch pads little; `progress(k)` is called with
        the number of texts finished after each batch.
        """
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        torch = self._torch
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                tokens = self.tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                        max_length=self.max_seq_length, return_tensors="pt")
                hidden = self.model(**tokens).last_hidden_state            # (b, t, d)
                mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, t, 1)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[batch] = pooled.numpy()
                if progress is not None:
                    progress(len(batch))
        return out


def _model_name(model_dir: Path) -> str:
    """A readable model name: the package name for a model shipped inside a package, else the folder name."""
    model_dir = model_dir.resolve()
    if model_dir.name == "model" and model_dir.parent.name:
        return model_dir.parent.name.replace("_", "-")
    return model_dir.name
