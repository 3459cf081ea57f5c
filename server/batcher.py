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

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from movierec.diagnostics import ResourceExhausted

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """Collects submitted items into batches for `run_batch(items, threads) -> results` (same order).

    A lane takes the first waiting item, then whatever else is queued (or arrives within
    `max_wait_s`), up to `max_size` items. It runs the batch solo with `threads` threads when no
    other lane is busy and nothing is left waiting, otherwise shared with `threads // lanes`.
    If `run_batch` raises, every item of that batch gets the exception. With `max_waiting` > 0, a
    submit that finds that many items already waiting is refused (ResourceExhausted): a bounded queue
    keeps the accepted items' wait short under overload. Each answered future carries `batch_size`.
    """

    def __init__(
        self,
        run_batch: Callable[[list[T], int], list[R]],
        max_size: int = 32,
        max_wait_s: float = 0.0,
        lanes: int = 1,
        threads: int = 1,
        max_waiting: int = 0,
    ):
        self._run_batch = run_batch
        self._max_size = max(1, max_size)
        self._max_wait_s = max(0.0, max_wait_s)
        self._threads = max(1, threads)
        self._lanes = max(1, lanes)
        self._max_waiting = max(0, max_waiting)
        # One lock guards the waiting items and the lanes' state, so a lane's decision to take
        # work and its solo/shared decision see the same picture.
        self._state = threading.Condition()
        self._waiting: deque[tuple[T, Future[R]]] = deque()
        self._running = 0
        self._solo = False
        self._closed = False
        self.batches = 0  # batches run so far (for tests and metrics)
        self.items = 0
        self.solo_batches = 0
        self._workers = [
            threading.Thread(target=self._loop, args=(i,), name=f"movierec-batcher-{i}", daemon=True)
            for i in range(self._lanes)
        ]
        for worker in self._workers:
            worker.start()

    def submit(self, item: T) -> Future[R]:
        future: Future[R] = Future()
        with self._state:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            if self._max_waiting and len(self._waiting) >= self._max_waiting:
                raise ResourceExhausted(
                    f"the server is at capacity ({len(self._waiting)} requests already waiting "
                    f"for a batch); retry with backoff"
                )
            self._waiting.append((item, future))
            self._state.notify_all()
        return future

    @property
    def waiting(self) -> int:
        """Items queued and not yet taken by a lane."""
        return len(self._waiting)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop taking work; batches already waiting still run (joined for at most `timeout_s` in all)."""
        with self._state:
            self._closed = True
            self._state.notify_all()
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))

    def _may_take(self, lane: int) -> bool:
        # The first lane takes any waiting work; the others only help while a shared batch runs.
        return bool(self._waiting) and (lane == 0 or (self._running > 0 and not self._solo))

    def _loop(self, lane: int) -> None:
        while True:
            with self._state:
                while not self._may_take(lane):
                    if self._closed and (lane or not self._waiting):
                        return
                    self._state.wait()
                batch = self._take()
                if self._max_wait_s and len(batch) < self._max_size:
                    deadline = time.monotonic() + self._max_wait_s
                    while len(batch) < self._max_size and (left := deadline - time.monotonic()) > 0:
                        self._state.wait(left)
                        batch += self._take(self._max_size - len(batch))
                solo = self._running == 0 and not self._waiting
                self._running += 1
                self._solo = solo
            self._run(batch, solo)

    def _take(self, limit: int | None = None) -> list[tuple[T, Future[R]]]:
        n = min(len(self._waiting), self._max_size if limit is None else limit)
        return [self._waiting.popleft() for _ in range(n)]

    def _run(self, batch: list[tuple[T, Future[R]]], solo: bool) -> None:
        live = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
        try:
            if not live:
                return
            with self._state:
                self.batches += 1
                self.items += len(live)
                self.solo_batches += solo
            threads = self._threads if solo else max(1, self._threads // self._lanes)
            try:
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
            f.batch_size = len(live)  # type: ignore[attr-defined]
            f.set_result(result)
