from __future__ import annotations

import threading
import time

import pytest

from movierec.server.batcher import MicroBatcher


def test_concurrent_items_share_batches_and_keep_their_order() -> None:
    sizes: list[int] = []

    def run(items: list[int], threads: int) -> list[int]:
        sizes.append(len(items))
        time.sleep(0.01)  # while a batch runs, the next one fills up
        return [i * 10 for i in items]

    batcher = MicroBatcher(run, max_size=8, max_wait_s=0.005)
    futures = [batcher.submit(i) for i in range(40)]
    assert [f.result(5) for f in futures] == [i * 10 for i in range(40)]
    assert sum(sizes) == 40 and max(sizes) <= 8 and len(sizes) < 40
    batcher.close()


def test_a_failing_batch_fails_each_of_its_items() -> None:
    batcher = MicroBatcher(lambda items, threads: 1 / 0, max_size=4, max_wait_s=0.01)
    futures = [batcher.submit(i) for i in range(3)]
    for f in futures:
        with pytest.raises(ZeroDivisionError):
            f.result(5)
    batcher.close()


def test_a_wrong_number_of_results_is_an_error_not_a_mixup() -> None:
    batcher = MicroBatcher(lambda items, threads: items[:1], max_size=4, max_wait_s=0.05)
    futures = [batcher.submit(i) for i in range(2)]
    with pytest.raises(RuntimeError, match="gave 1 results"):
        futures[1].result(5)
    batcher.close()


def test_a_single_item_is_not_held_back_long() -> None:
    batcher = MicroBatcher(lambda items, threads: items, max_size=32, max_wait_s=0.002)
    started = time.monotonic()
    assert batcher.submit(7).result(5) == 7
    assert time.monotonic() - started < 0.5
    answers: list[int] = []
    threads = [threading.Thread(target=lambda i=i: answers.append(batcher.submit(i).result(5))) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == list(range(8))
    batcher.close()


def test_an_idle_batcher_runs_solo_and_a_busy_one_shares_the_threads() -> None:
    """One request alone gets every thread; under load two lanes run side by side with half each,
    and a solo batch never overlaps another."""
    seen: list[tuple[int, int]] = []  # (threads, batches running at once)
    running = [0]
    lock = threading.Lock()

    def run(items: list[int], threads: int) -> list[int]:
        with lock:
            running[0] += 1
            seen.append((threads, running[0]))
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return items

    batcher = MicroBatcher(run, max_size=4, lanes=2, threads=2)
    assert batcher.submit(1).result(5) == 1
    assert seen == [(2, 1)] and batcher.solo_batches == 1
    futures = [batcher.submit(i) for i in range(40)]
    assert [f.result(5) for f in futures] == list(range(40))
    assert (1, 2) in seen  # two shared batches ran at once
    assert all(concurrent == 1 for threads, concurrent in seen if threads == 2)  # solo ran alone
    assert all(threads in (1, 2) for threads, _ in seen)
    batcher.close()


def test_a_full_queue_refuses_at_once_and_the_accepted_items_are_answered() -> None:
    from movierec.diagnostics import ResourceExhausted

    release = threading.Event()

    def run(items: list[int], threads: int) -> list[int]:
        release.wait(10)
        return [i * 10 for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_size=1, lanes=1, max_waiting=3)
    first = batcher.submit(0)
    deadline = time.monotonic() + 5
    while batcher.waiting and time.monotonic() < deadline:  # the lane has taken the first item
        time.sleep(0.001)
    queued = [batcher.submit(i) for i in (1, 2, 3)]
    assert batcher.waiting == 3
    started = time.monotonic()
    with pytest.raises(ResourceExhausted, match="3 requests already waiting"):
        batcher.submit(4)
    assert time.monotonic() - started < 0.1
    release.set()
    assert [f.result(5) for f in [first, *queued]] == [0, 10, 20, 30]
    assert all(f.batch_size == 1 for f in queued)  # type: ignore[attr-defined]
    assert batcher.submit(5).result(5) == 50  # room again once the queue drained
    batcher.close()
