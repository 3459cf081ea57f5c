"""Micro-batching: concurrent requests share one encoder forward, one FAISS search, one matrix product."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)


class MicroBatcher(Generic[T, R]):
    """Collects submitted items into batches for `run_batch(items) -> results` (same order, same length).

    A worker thread takes the first waiting item, then whatever else arrives within `max_wait_s`
    (or is already queued because the previous batch was running), up to `max_size` items.
    If `run_batch` raises, every item of that batch gets the exception.
    """

    def __init__(self, run_batch: Callable[[list[T]], list[R]], max_size: int = 32, max_wait_s: float = 0.002):
        self._run_batch = run_batch
        self._max_size = max(1, max_size)
        self._max_wait_s = max(0.0, max_wait_s)
        self._queue: queue.Queue[tuple[T, Future[R]] | None] = queue.Queue()
        self.batches = 0  # batches run so far (for tests and metrics)
        self.items = 0
        self._worker = threading.Thread(target=self._loop, name="movierec-batcher", daemon=True)
        self._worker.start()

    def submit(self, item: T) -> Future[R]:
        future: Future[R] = Future()
        self._queue.put((item, future))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self._max_wait_s
            closing = False
            while len(batch) < self._max_size:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is None:
                    closing = True
                    break
                batch.append(nxt)
            self._run(batch)
            if closing:
                return

    def _run(self, batch: list[tuple[T, Future[R]]]) -> None:
        live = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
        if not live:
            return
        self.batches += 1
        self.items += len(live)
        try:
            results = self._run_batch([item for item, _ in live])
            if len(results) != len(live):
                raise RuntimeError(f"batch of {len(live)} gave {len(results)} results")
        except BaseException as e:  # handed to the callers, who map it to a status
            for _, f in live:
                f.set_exception(e)
            return
        for (_, f), result in zip(live, results):
            f.set_result(result)
