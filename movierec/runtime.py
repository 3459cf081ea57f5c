"""Process-wide tuning for CPU inference, applied once at each entry point (server, indexer, eval, bench).

Measured on the 2-core machine (reports/bench.md has the numbers):
- Only the encoder runs multi-threaded. numpy's and FAISS's OpenBLAS pools (and FAISS's OpenMP)
  are held to one thread: their worker threads spin after every call, and a spinning pool
  beside torch's two threads made a single request ~2x slower than its encoder forward.
- glibc's allocator keeps large freed blocks in the heap instead of unmapping them: the encoder's
  attention buffers were mapped and faulted in afresh for every batch (seen as system time).
"""

from __future__ import annotations

import ctypes
import logging
import sys

from movierec.hardware import usable_cores

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_applied: int | None = None


def tune_process(torch_threads: int = 0) -> int:
    """Apply the settings above; `torch_threads` 0 means one per core. Returns the torch thread count.

    Safe to call more than once (later calls only change the torch thread count).
    """
    global _applied
    import threadpoolctl

    threads = torch_threads if torch_threads > 0 else (usable_cores())
    if _applied is None:
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL("libc.so.6")
                for option, value in (
                    (_M_MMAP_THRESHOLD, 1 << 30),
                    (_M_TRIM_THRESHOLD, 1 << 30),
                    (_M_TOP_PAD, 64 << 20),
                ):
                    libc.mallopt(option, value)
            except OSError:  # not glibc (e.g. musl): the default allocator policy stays
                log.debug("mallopt unavailable; allocator left as is")
        controller = threadpoolctl.ThreadpoolController()
        controller.select(user_api="blas").limit(limits=1)
        for lib in controller.lib_controllers:
            if lib.internal_api == "openmp" and "faiss" in lib.filepath:
                lib.set_num_threads(1)
    _applied = threads
    # torch's own OpenMP runtime is a separate library: set it last so the calls above cannot
    # reach it. A process that has not imported torch yet (a reindex with every text cached never
    # does) gets the count when the encoder loads (apply_torch_threads).
    if "torch" in sys.modules:
        apply_torch_threads()
    return threads


def apply_torch_threads() -> None:
    """Give torch the thread count tune_process chose (nothing if it was not called)."""
    if _applied is not None:
        import torch

        torch.set_num_threads(_applied)


def encoder_threads() -> int:
    """The encoder's thread count tune_process chose (one per core if it was not called)."""
    return _applied if _applied is not None else (usable_cores())
