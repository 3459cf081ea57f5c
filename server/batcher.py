"""Micro-batching: concurrent requests share one encoder forward, one FAISS search, one matrix product.

Batches run on `lanes` worker threads. An idle server answers a request alone with every thread
the encoder has ("solo": the lowest latency for one prompt); under load, the lanes run batches side
by side with a share of the threads each ("shared"): on the 2-core machine two single-threaded
forwards got through ~500 prompts/s where one two-threaded forward got ~410 (reports/bench.md).
A solo batch runs alone, so the two modes never oversubscribe the cores, and solo batches always
run on the first lane: the other lanes take work only while it is busy (a forward on a lane whose
thread team has gone idle measured ~3 ms slower for one client).
"""

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
    """Collects submitted items into batches for `run_batch(items, threads) -> results` (same order).

    A lane takes the first waiting item, then whatever else is queued (or arrives within
    `max_wait_s`), up to `max_size` items. It runs the batch solo with `threads` threads when no
    other lane is busy and nothing is left waiting, otherwise shared with `threads // lanes`.
    If `run_batch` raises, every item of that batch gets the exception.
    """

    def __init__(self, run_batch: Callable[[list[T], int], list[R]], max_size: int = 32,
                 max_wait_s: float = 0.0, lanes: int = 1, threads: int = 1):
        self._run_batch = run_batch
        self._max_size = max(1, max_size)
        self._max_wait_s = max(0.0, max_wait_s)
        self._threads = max(1, threads)
        self._lanes = max(1, lanes)
        self._queue: queue.Queue[tuple[T, Future[R]] | None] = queue.Queue()
        self._state = threading.Condition()
        self._running = 0
        self._solo = False
        self._closed = False
        self.batches = 0  # batches run so far (for tests and metrics)
        self.items = 0
        self.solo_batches = 0
        self._workers = [threading.Thread(target=self._loop, args=(i,), name=f"movierec-batcher-{i}", daemon=True)
                         for i in range(self._lanes)]
        for worker in self._workers:
            worker.start()

    def submit(self, item: T) -> Future[R]:
        future: Future[R] = Future()
        self._queue.put((item, future))
        return future

    def close(self) -> None:
        with self._state:
            self._closed = True
            self._state.notify_all()
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=5)

    def _next(self, lane: int) -> tuple[T, Future[R]] | None:
        """The next item for this lane; lanes after the first wait until the first is busy."""
        while True:
            if lane:
                with self._state:
                    while self._running == 0 and not self._closed:
                        self._state.wait()
            try:
                return self._queue.get(timeout=0.05 if lane else None)
            except queue.Empty:
                continue

    def _loop(self, lane: int) -> None:
        while True:
            first = self._next(lane)
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
        with self._state:
            while self._solo:  # a solo batch has every thread; wait for it
                self._state.wait()
            solo = self._running == 0 and self._queue.empty()
            self._running += 1
            self._solo = solo
            self.batches += 1
            self.items += len(live)
            self.solo_batches += solo
        try:
            threads = self._threads if solo else max(1, self._threads // self._lanes)
            results = self._run_batch([item for item, _ in live], threads)
            if len(results) != len(live):
                raise RuntimeError(f"batch of {len(live)} gave {len(results)} results")
        except BaseException as e:  # handed to the callers, who map it to a status
            for _, f in live:
                f.set_exception(e)
            return
        finally:
            with self._state:
                self._running -= 1
                if solo:
                    self._solo = False
                self._state.notify_all()
        for (_, f), result in zip(live, results):
            f.set_result(result)
