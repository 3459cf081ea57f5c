"""The sentence encoder: a local BERT-family model, mean pooling, L2-normalised vectors.

Backends of the same model: eager PyTorch in fp32 ("torch") or with its matrix products under
bfloat16 autocast ("torch-bf16", for CPUs with native bf16 kernels); the model exported to ONNX and
run by ONNX Runtime, in fp32 ("onnx") or with int8 weights ("onnx-int8"). The server embeds prompts
with `encoder_backend`, the indexer the catalogue with `index_encoder_backend` (settings.py says
which is faster where).

Nothing is downloaded: the model is loaded from a local folder with `local_files_only=True`
and the Hugging Face hub is switched off before transformers is imported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from movierec.diagnostics import ArtifactError
from movierec.hardware import BF16_FLAGS, CpuInfo, detect_cpu
from movierec.runtime import apply_torch_threads, encoder_threads

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from movierec.settings import Settings

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


class TextEncoder(Protocol):
    """What embeds texts: any backend here, its lazy form, or the indexer's Ray job."""

    model_dir: Path
    name: str
    dimensions: int
    max_seq_length: int
    backend: str
    fingerprint: str

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None, threads: int | None = None
    ) -> np.ndarray: ...


class _BatchingEncoder:
    """What every backend shares: the local tokenizer, and texts cut into forwards by length.

    `encode(texts)` returns float32 array of shape (len(texts), dimensions), each row L2-normalised.
    Safe to call from several threads: tokenizing is serialised (the fast tokenizer is not
    thread-safe), forwards may run side by side, each with the thread count it asks for.
    A backend implements `_forward(input_ids, threads)`: padded token ids of one forward -> its
    unit vectors float32 (b, dimensions).
    """

    backend = ""

    def __init__(self, model_dir: Path, max_seq_length: int = 256, batch_size: int = 64, batch_tokens: int = 4096):
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        if not (model_dir / "config.json").is_file():
            raise ArtifactError(f"{model_dir}: not a Hugging Face model folder (no config.json)")
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        self.model_dir = model_dir
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.dimensions = int(config["hidden_size"])
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.name = _model_name(model_dir)
        self.fingerprint = encoder_fingerprint(model_dir, self.backend)
        self._tokenizer_lock = threading.Lock()

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None, threads: int | None = None
    ) -> np.ndarray:
        """Embed `texts` -> float32 array (n, dimensions), rows of unit length.

        Texts are sorted by token count and cut into forwards of at most `batch_size` texts and
        `batch_tokens` padded tokens: short prompts share one forward, long movie texts go in
        smaller ones (faster per text here: 25 vs 21 texts/s at 256 tokens). `progress(k)` is
        called with the number of texts finished after each forward. `threads` sets the forward's
        thread count for this call (the caller keeps concurrent calls from oversubscribing the cores).
        """
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        with self._tokenizer_lock:
            tokens = self.tokenizer(list(texts), truncation=True, max_length=self.max_seq_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
        batches = self._batches(order, [len(t) for t in tokens])
        workers = self._parallel_batches(len(batches), threads)
        if workers > 1:  # a bulk job: forwards side by side, one thread each
            with ThreadPoolExecutor(workers, thread_name_prefix="encode") as pool:
                for batch, vectors in zip(
                    batches, pool.map(lambda b: self._forward([tokens[i] for i in b], 1), batches)
                ):
                    out[batch] = vectors
                    if progress is not None:
                        progress(len(batch))
            return out
        for batch in batches:
            out[batch] = self._forward([tokens[i] for i in batch], threads)
            if progress is not None:
                progress(len(batch))
        return out

    # A bulk job (the indexer's: no thread count asked, many forwards) runs one single-threaded
    # forward per core side by side where that beat one forward on every core (every backend here:
    # README, Encoder backends and Hardware); the server's lanes ask for their thread counts and keep
    # one forward each.
    bulk_side_by_side = False

    def _parallel_batches(self, batches: int, threads: int | None) -> int:
        """How many forwards to run side by side (1: one at a time, with `threads` threads)."""
        cores = encoder_threads()
        side_by_side = self.bulk_side_by_side and threads is None and cores > 1 and batches >= 2 * cores
        return cores if side_by_side else 1

    def _pad(self, input_ids: list[list[int]], tensors: str) -> Any:
        with self._tokenizer_lock:
            return self.tokenizer.pad({"input_ids": input_ids}, return_tensors=tensors)

    def _forward(self, input_ids: list[list[int]], threads: int | None) -> np.ndarray:
        raise NotImplementedError

    def _batches(self, order: list[int], lengths: list[int]) -> list[list[int]]:
        """Cut `order` (ascending length) into runs within the count and padded-token budgets."""
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            if current and (
                len(current) >= self.batch_size or (len(current) + 1) * lengths[i] > max(self.batch_tokens, lengths[i])
            ):
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches


@dataclass(frozen=True)
class BackendChoice:
    """The backend that runs for a requested one on this CPU, and why it differs ("" when it does not)."""

    requested: str
    backend: str
    reason: str
    cpu: CpuInfo | None  # the CPU that decided; None where the backend does not depend on it


def resolve_backend(requested: str, cpu: CpuInfo | None = None) -> BackendChoice:
    """What `requested` (one of BACKENDS) runs as on `cpu` (default: this machine's): "torch-bf16"
    needs native bf16 kernels (AVX512-BF16 or AMX); without them PyTorch emulates bf16, slower
    than fp32, so fp32 PyTorch runs instead, its vectors cached as fp32's. The other backends run
    as asked on any CPU (the CPU is not even read for them)."""
    if requested not in BACKENDS:
        raise ValueError(f"encoder backend {requested!r}: expected one of {', '.join(BACKENDS)}")
    if requested not in CPU_DEPENDENT_BACKENDS:
        return BackendChoice(requested, requested, "", cpu)
    cpu = cpu or detect_cpu()
    if not cpu.native_bf16:
        return BackendChoice(
            requested,
            "torch",
            f"no native bf16 on this CPU ({cpu.describe()}; bf16 needs "
            f"{' or '.join(sorted(BF16_FLAGS))}): the torch-bf16 encoder runs in fp32 (torch)",
            cpu,
        )
    return BackendChoice(requested, requested, "", cpu)


def chosen_backend(requested: str, cpu: CpuInfo | None = None) -> BackendChoice:
    """resolve_backend, and the reason in the log when the backend differs from the one asked for."""
    choice = resolve_backend(requested, cpu)
    if choice.reason:
        log.info("encoder backend %s: %s", requested, choice.reason)
    return choice


class Encoder(_BatchingEncoder):
    """The model in eager PyTorch, mean pooling, L2 normalisation: fp32 ("torch"), or with `bf16` its
    matrix products under bfloat16 autocast, pooling and normalisation in fp32 ("torch-bf16").

    `bf16` is taken as given (on a CPU without native bf16 PyTorch emulates it: right, but slower
    than fp32); `load_encoder` and `settings_encoder` ask only where the CPU has it (resolve_backend).
    """

    backend = "torch"
    # Bulk forwards side by side, one thread each: faster than one forward on every core, in bf16
    # and in fp32 alike (README, Encoder backends).
    bulk_side_by_side = True

    def __init__(
        self,
        model_dir: Path,
        max_seq_length: int = 256,
        batch_size: int = 64,
        batch_tokens: int = 4096,
        bf16: bool = False,
    ):
        import torch
        from transformers import AutoModel

        if bf16:
            self.backend = "torch-bf16"
        self.bf16 = bf16
        super().__init__(model_dir, max_seq_length, batch_size, batch_tokens)
        apply_torch_threads()
        self._torch = torch
        self.model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    def _forward(self, input_ids: list[list[int]], threads: int | None) -> np.ndarray:
        torch = self._torch
        # Set on every forward (OpenMP keeps it per calling thread): a call with no count gets the
        # configured one, not whatever an earlier call from this thread asked for.
        torch.set_num_threads(threads or encoder_threads())
        padded = self._pad(input_ids, "pt")
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            hidden = self.model(**padded).last_hidden_state.float()  # (b, t, d)
            mask = padded["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, t, 1)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()


class OnnxEncoder(_BatchingEncoder):
    """The same model exported to ONNX (pooling and normalisation inside the graph), run by ONNX
    Runtime; `quantized`: its MatMul weights in int8 (dynamic quantisation, per channel).

    `model_path` is the prepared .onnx file (movierec.onnx_model.prepared_model). One session per
    thread count asked for, each sequential with that many intra-op threads that sleep rather than
    spin between forwards (the batching lanes run forwards side by side).
    """

    bulk_side_by_side = True

    def __init__(
        self,
        model_dir: Path,
        model_path: Path,
        quantized: bool,
        max_seq_length: int = 256,
        batch_size: int = 64,
        batch_tokens: int = 4096,
    ):
        self.backend = "onnx-int8" if quantized else "onnx"
        # int8: one text per forward. Dynamic quantisation scales each MatMul's input by the range of
        # the whole tensor, so in a batch a text's vector would depend on the other texts and the
        # padding beside it (cosine 0.97 to itself alone, measured): the same prompt would rank
        # differently under load. Alone it is the same every time, and no padding is computed.
        super().__init__(model_dir, max_seq_length, 1 if quantized else batch_size, batch_tokens)
        import onnxruntime

        self._ort = onnxruntime
        self.model_path = model_path
        self._sessions: dict[int, Any] = {}
        self._sessions_lock = threading.Lock()
        self._inputs = [i.name for i in self._session(encoder_threads()).get_inputs()]

    def _session(self, threads: int) -> Any:
        with self._sessions_lock:
            session = self._sessions.get(threads)
            if session is None:
                ort = self._ort
                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                session = self._sessions[threads] = ort.InferenceSession(
                    str(self.model_path), options, providers=["CPUExecutionProvider"]
                )
            return session

    def _forward(self, input_ids: list[list[int]], threads: int | None) -> np.ndarray:
        padded = self._pad(input_ids, "np")
        feed = {
            "input_ids": padded["input_ids"].astype(np.int64),
            "attention_mask": padded["attention_mask"].astype(np.int64),
        }
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        out = self._session(threads or encoder_threads()).run(None, feed)[0]
        return np.asarray(out, dtype=np.float32)


BACKENDS = ("torch", "torch-bf16", "onnx", "onnx-int8")
# The backends whose choice reads the CPU (resolve_backend); for the others it is never read.
CPU_DEPENDENT_BACKENDS = frozenset({"torch-bf16"})


def settings_encoder(
    settings: Settings,
    index_dir: Path | None = None,
    *,
    lazy: bool = False,
    backend: str | None = None,
    catalogue: bool = False,
) -> Encoder | OnnxEncoder | EncoderOnDemand:
    """The encoder the settings ask for: the server's (`encoder_backend`), the indexer's with
    `catalogue` (`index_encoder_backend`), or `backend`; its ONNX files in onnx_dir (default:
    cache_dir/onnx, cache_dir's default index_dir/cache); `lazy`: loaded on its first encode."""
    backend = backend or (settings.encoder.index_encoder_backend if catalogue else settings.encoder.encoder_backend)
    arguments = (
        settings.encoder.max_seq_length,
        settings.encoder.embed_batch_size,
        settings.encoder.embed_batch_tokens,
    )
    onnx_dir = onnx_folder(settings, index_dir)
    cpu = _deciding_cpu(settings, backend)
    if lazy:
        return EncoderOnDemand(settings.encoder.model_dir, *arguments, backend=backend, onnx_dir=onnx_dir, cpu=cpu)
    return load_encoder(settings.encoder.model_dir, backend, onnx_dir, *arguments, cpu=cpu)


def settings_backend(settings: Settings, *, catalogue: bool = False) -> BackendChoice:
    """The backend the settings ask for (the server's, or the indexer's with `catalogue`) as it runs on
    this CPU, with cpu_flags_off applied."""
    requested = settings.encoder.index_encoder_backend if catalogue else settings.encoder.encoder_backend
    return resolve_backend(requested, _deciding_cpu(settings, requested))


def settings_cpu(settings: Settings) -> CpuInfo:
    """This machine's CPU with the settings' cpu_flags_off hidden."""
    return detect_cpu(settings.encoder.cpu_flags_off.split(","))


def _deciding_cpu(settings: Settings, requested: str) -> CpuInfo | None:
    """settings_cpu where the CPU decides `requested`'s backend; None (the CPU is not read) elsewhere."""
    return settings_cpu(settings) if requested in CPU_DEPENDENT_BACKENDS else None


def onnx_folder(settings: Settings, index_dir: Path | None = None) -> Path:
    """Where the ONNX encoder files are: onnx_dir, else cache_dir/onnx, else index_dir/cache/onnx."""
    return (
        settings.encoder.onnx_dir
        or (settings.index.cache_dir or (index_dir or settings.index.index_dir) / "cache") / "onnx"
    )


def encoder_fingerprint(model_dir: Path, backend: str = "torch") -> str:
    """The identity of the vectors an encoder makes: the model's fingerprint, and the backend when it
    is not the fp32 PyTorch one (an int8 model's vectors differ; caches keep them apart)."""
    fingerprint = model_fingerprint(model_dir)
    return fingerprint if backend in ("torch", "") else f"{fingerprint}-{backend}"


def load_encoder(
    model_dir: Path,
    backend: str,
    onnx_dir: Path,
    max_seq_length: int = 256,
    batch_size: int = 64,
    batch_tokens: int = 4096,
    *,
    cpu: CpuInfo | None = None,
) -> Encoder | OnnxEncoder:
    """The encoder of `backend` (one of BACKENDS) as it runs on `cpu` (default: this machine's;
    resolve_backend); the ONNX files are exported (and quantised) from the local model folder once
    and kept in `onnx_dir` by model checksum."""
    backend = chosen_backend(backend, cpu).backend
    if backend in ("torch", "torch-bf16"):
        return Encoder(model_dir, max_seq_length, batch_size, batch_tokens, bf16=backend == "torch-bf16")
    from movierec.onnx_model import prepared_model

    quantized = backend == "onnx-int8"
    path = prepared_model(model_dir, onnx_dir, quantized)
    return OnnxEncoder(model_dir, path, quantized, max_seq_length, batch_size, batch_tokens)


class EncoderOnDemand:
    """An Encoder's identity (name, folder, dimensions, the backend it runs on this CPU) without
    loading the model, which loads on the first `encode`: a reindex whose texts are all cached
    never imports torch (~3 s saved)."""

    def __init__(
        self,
        model_dir: Path,
        max_seq_length: int = 256,
        batch_size: int = 64,
        batch_tokens: int = 4096,
        backend: str = "torch",
        onnx_dir: Path | None = None,
        cpu: CpuInfo | None = None,
    ):
        try:
            config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ArtifactError(f"{model_dir}: not a Hugging Face model folder (config.json: {e})") from e
        self.model_dir = model_dir
        self.max_seq_length = max_seq_length
        self.dimensions = int(config["hidden_size"])
        self.name = _model_name(model_dir)
        self.choice = chosen_backend(backend, cpu)
        self.backend = self.choice.backend
        self.fingerprint = encoder_fingerprint(model_dir, self.backend)
        self.onnx_dir = onnx_dir
        self._arguments = (max_seq_length, batch_size, batch_tokens)
        self._encoder: Encoder | OnnxEncoder | None = None

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None, threads: int | None = None
    ) -> np.ndarray:
        if self._encoder is None:
            if self.backend.startswith("onnx") and self.onnx_dir is None:
                raise ValueError(f"the {self.backend} encoder needs a folder for its model file")
            self._encoder = load_encoder(
                self.model_dir, self.backend, self.onnx_dir or Path("."), *self._arguments, cpu=self.choice.cpu
            )
        return self._encoder.encode(texts, progress, threads)


def _model_name(model_dir: Path) -> str:
    """A readable model name: the package name for a model shipped inside a package, else the folder name."""
    model_dir = model_dir.resolve()
    if model_dir.name == "model" and model_dir.parent.name:
        return model_dir.parent.name.replace("_", "-")
    return model_dir.name
