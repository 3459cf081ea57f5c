"""The encoder as an ONNX file: exported from the local model folder, optionally quantised, cached.

`prepared_model(model_dir, onnx_dir, quantized)` returns `onnx_dir/<model fingerprint>.onnx` (or
`...-int8.onnx`; the onnx_dir setting defaults to cache_dir/onnx, beside the index), making it the
first time: the PyTorch model wrapped with the encoder's mean pooling and L2 normalisation, so
that one graph maps token ids to unit vectors, exported with dynamic batch and sequence axes; the
int8 file is ONNX Runtime's dynamic quantisation of its
MatMul weights, per output channel (per tensor lost too much: cosine to fp32 ~0.95 for prompts,
where per channel keeps ~0.99; reports/eval.md measures it). Nothing is downloaded. Concurrent
processes (a server and a reindex) wait on one lock file, and a file appears only complete
(written beside, then renamed).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import warnings
from pathlib import Path

from movierec.embedding import model_fingerprint

log = logging.getLogger(__name__)

OPSET = 17


def model_file(onnx_dir: Path, model_dir: Path, quantized: bool) -> Path:
    return onnx_dir / f"{model_fingerprint(model_dir)}{'-int8' if quantized else ''}.onnx"


def prepared_model(model_dir: Path, onnx_dir: Path, quantized: bool) -> Path:
    """The encoder's ONNX file for this model in `onnx_dir` (see the module docstring), made if missing."""
    path = model_file(onnx_dir, model_dir, quantized)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_file():  # another process made it while this one waited
            return path
        fp32 = model_file(onnx_dir, model_dir, False)
        if not fp32.is_file():
            started = time.monotonic()
            _write_atomically(fp32, lambda out: export(model_dir, out))
            log.info("exported the encoder to ONNX in %.1fs: %s", time.monotonic() - started, fp32)
        if quantized:
            started = time.monotonic()
            _write_atomically(path, lambda out: quantize(fp32, out))
            log.info("quantised the encoder to int8 in %.1fs: %s", time.monotonic() - started, path)
    return path


def _write_atomically(path: Path, write: object) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write(partial)  # type: ignore[operator]
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def export(model_dir: Path, out: Path) -> None:
    """Export the model with pooling and normalisation: inputs input_ids, attention_mask (int64 (b, t)),
    and token_type_ids when the model takes them; output `embedding` float32 (b, d)."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    takes_types = getattr(model.config, "type_vocab_size", 0) > 0

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
        ) -> torch.Tensor:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state  # (b, t, d)
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (b, t, 1)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    ids = torch.ones((2, 8), dtype=torch.int64)
    inputs = (ids, torch.ones_like(ids)) + ((torch.zeros_like(ids),) if takes_types else ())
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if takes_types else [])
    # The tracer warns about Python branches on shapes in transformers' masking code; they hold for
    # every input here (the mask is always given, its length is the sequence's), and the tests check
    # the exported model against PyTorch on padded batches of other sizes.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled().eval(),
            inputs,
            str(out),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
            external_data=False,
        )


def quantize(fp32: Path, out: Path) -> None:
    """Dynamic int8 quantisation of the MatMul weights, per output channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it warns on the root logger that static quantisation wants pre-processing
    try:
        quantize_dynamic(
            str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
        )
    finally:
        root.setLevel(level)
