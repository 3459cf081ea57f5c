"""The indexer's embedding step as a Ray Data job: `map_batches` over a pool of encoder actors.

Embedding is the cold build's whole cost, and it is embarrassingly parallel: each actor loads the
same local model (nothing downloaded) with one torch thread per CPU it was given, and encodes
batches of texts of similar length. The vectors come back keyed by their position, so the order of
the results does not matter. `RayEncoder` has the Encoder's interface (`encode`, `dimensions`,
`model_dir`, `name`), so the content-hash cache and the rest of the build do not know it is there.

With no address a local Ray instance is started for the job (its CPUs: the workers asked for) and
stopped after it; with an address (`ray://host:10001` or `host:6379`) the job runs on that cluster,
whose workers must have movierec installed and the model folder at the same path.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from movierec.diagnostics import ArtifactError
from movierec.embedding import EncoderOnDemand
from movierec.hardware import CpuInfo, usable_cores

log = logging.getLogger(__name__)

# Texts per Ray batch: large enough that a batch's overhead (serialising it, scheduling) is small
# beside its forwards, small enough that the actors share the tail of the job.
RAY_BATCH_TEXTS = 64


class _EmbeddingActor:
    """One Ray actor: the encoder of `backend`, loaded once, with `threads` threads. `cpu` is the CPU
    the driver chose the backend for: every actor runs that backend, whatever its own node has, so
    the vectors are what the cache key and the manifest say (on a node without native bf16 a
    torch-bf16 actor emulates it, slower but the same rounding)."""

    def __init__(
        self,
        model_dir: str,
        max_seq_length: int,
        batch_size: int,
        batch_tokens: int,
        threads: int,
        backend: str,
        onnx_dir: str,
        cpu: CpuInfo | None,
    ):
        from movierec.embedding import load_encoder
        from movierec.runtime import tune_process

        tune_process(threads)
        self.encoder = load_encoder(
            Path(model_dir), backend, Path(onnx_dir), max_seq_length, batch_size, batch_tokens, cpu=cpu
        )
        self.threads = threads

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode([str(t) for t in batch["text"]], threads=self.threads)
        return {"row": batch["row"], "vector": vectors}


class RayEncoder:
    """Embeds texts on Ray; `encode(texts)` -> float32 (len(texts), dimensions), unit rows, as Encoder's.

    workers: the actor pool's size; threads_per_worker: encoder threads (and Ray CPUs) per actor.
    backend: the encoder backend (movierec.embedding); an ONNX one's file is made here, in
    `onnx_dir`, before the job, and the actors load it from there (on a cluster: the same path).
    """

    def __init__(
        self,
        model_dir: Path,
        max_seq_length: int = 256,
        batch_size: int = 64,
        batch_tokens: int = 4096,
        *,
        workers: int = 0,
        threads_per_worker: int = 1,
        address: str | None = None,
        backend: str = "torch",
        onnx_dir: Path | None = None,
    ):
        identity = EncoderOnDemand(
            model_dir, max_seq_length, batch_size, batch_tokens, backend=backend, onnx_dir=onnx_dir
        )  # reads config.json only
        backend = identity.backend  # as it runs on this CPU
        if backend.startswith("onnx"):
            if onnx_dir is None:
                raise ValueError(f"the {backend} encoder needs a folder for its model file")
            from movierec.onnx_model import prepared_model

            prepared_model(model_dir, onnx_dir, backend == "onnx-int8")
        self.model_dir = model_dir
        self.max_seq_length = max_seq_length
        self.dimensions = identity.dimensions
        self.name = identity.name
        self.fingerprint = identity.fingerprint
        self.backend = backend
        self.workers = workers if workers > 0 else max(1, usable_cores() // threads_per_worker)
        self.threads_per_worker = threads_per_worker
        self.address = address or None
        self._arguments = (
            str(model_dir),
            max_seq_length,
            batch_size,
            batch_tokens,
            threads_per_worker,
            backend,
            str(onnx_dir or ""),
            identity.choice.cpu,
        )

    def encode(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None, threads: int | None = None
    ) -> np.ndarray:
        """`threads` is ignored: each actor has `threads_per_worker`."""
        out = np.zeros((len(texts), self.dimensions), np.float32)
        if not texts:
            return out
        import ray
        import ray.data

        started_here = not ray.is_initialized()
        if started_here:
            self._start(ray)
        try:
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = False  # the indexer shows its own bar
            # Similar lengths in one batch: the actors pad less (characters stand in for tokens here).
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            items = [{"row": i, "text": texts[i]} for i in order]
            blocks = max(self.workers, -(-len(items) // RAY_BATCH_TEXTS))  # at least one block per actor
            dataset = ray.data.from_items(items, override_num_blocks=min(blocks, len(items)))
            embedded = dataset.map_batches(
                _EmbeddingActor,
                fn_constructor_args=self._arguments,
                batch_size=RAY_BATCH_TEXTS,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=self.workers),
                num_cpus=self.threads_per_worker,
            )
            done = 0
            for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
                rows = np.asarray(batch["row"], np.int64)
                out[rows] = np.asarray(batch["vector"], np.float32)
                done += len(rows)
                if progress is not None:
                    progress(len(rows))
            if done != len(texts):
                raise ArtifactError(f"the Ray embedding job returned {done} vectors for {len(texts)} texts")
        finally:
            if started_here:
                ray.shutdown()
        return out

    def _start(self, ray: Any) -> None:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        # Ray starts its workers at niceness 15, for work that must not slow the node's own processes;
        # here the workers are the job, and at 15 they starve beside any other busy process.
        os.environ.setdefault("RAY_worker_niceness", "0")
        if self.address is not None:
            _check_reachable(self.address)
        if self.address is None:
            # A local instance just big enough for the pool; its object store stays small (texts and vectors).
            options |= {"num_cpus": self.workers * self.threads_per_worker, "object_store_memory": 256 << 20}
            log.info("starting a local Ray instance for %d embedding workers", self.workers)
        else:
            log.info("connecting to the Ray cluster at %s", self.address)
        try:
            ray.init(address=self.address, **options)
        except Exception as e:  # Ray raises ConnectionError, RuntimeError, ... for an unreachable cluster
            raise ArtifactError(f"could not start or reach Ray ({self.address or 'local instance'}): {e}") from e


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, with the address in the message, where Ray itself would keep retrying for minutes."""
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise ArtifactError(f"could not start or reach Ray ({address}): expected host:port or ray://host:port")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ArtifactError(f"could not start or reach Ray ({address}): {e}") from e
