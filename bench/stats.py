"""Latency summaries and a closed-loop driver for in-process clients."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def summarise(latencies: Sequence[float]) -> dict[str, float]:
    """Milliseconds: p50, p95, p99, mean and max of latencies given in seconds."""
    values = sorted(latencies)
    if not values:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0, "max_ms": 0.0}
    return {
        "p50_ms": round(percentile(values, 0.50) * 1000, 3),
        "p95_ms": round(percentile(values, 0.95) * 1000, 3),
        "p99_ms": round(percentile(values, 0.99) * 1000, 3),
        "mean_ms": round(sum(values) / len(values) * 1000, 3),
        "max_ms": round(values[-1] * 1000, 3),
    }


class Refused(Exception):
    """An operation the system under test declined (a limit): counted, not timed."""


# A client: called once in its own thread, returns the operation to repeat and a
# function that releases what the client holds (connection, app context).
Client = Callable[[int], tuple[Callable[[], None], Callable[[], None]]]


def closed_loop(client: Client, concurrency: int, duration: float, warmup: float) -> dict[str, Any]:
    """Run ``concurrency`` clients back to back; measure the window after ``warmup``.

    Each client repeats its operation as soon as the last one finished. Only
    operations that start and finish inside the measured window count.
    """
    barrier = threading.Barrier(concurrency + 1)
    go = threading.Event()
    timings: list[list[float]] = [[] for _ in range(concurrency)]
    counts = {"refused": 0, "failed": 0}
    errors: list[str] = []
    lock = threading.Lock()
    window: dict[str, float] = {}

    def run(index: int) -> None:
        try:
            operation, release = client(index)
        except BaseException as error:
            with lock:
                errors.append(f"client setup: {error!r}")
            barrier.abort()
            return
        try:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                return
            go.wait()
            start, stop = window["start"], window["stop"]
            mine = timings[index]
            while True:
                began = time.perf_counter()
                if began >= stop:
                    break
                try:
                    operation()
                except Refused:
                    if began >= start:
                        with lock:
                            counts["refused"] += 1
                    continue
                except Exception as error:
                    with lock:
                        counts["failed"] += 1
                        if len(errors) < 5:
                            errors.append(repr(error)[:300])
                    continue
                ended = time.perf_counter()
                if began >= start and ended <= stop:
                    mine.append(ended - began)
        finally:
            release()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()  # every client is connected
    now = time.perf_counter()
    window["start"] = now + warmup
    window["stop"] = now + warmup + duration
    go.set()
    for thread in threads:
        thread.join()
    if errors and not any(timings):
        raise RuntimeError("every client failed: " + "; ".join(errors))
    latencies = [value for values in timings for value in values]
    return {
        "concurrency": concurrency,
        "ops": len(latencies),
        "seconds": duration,
        "throughput": round(len(latencies) / duration, 1),
        **summarise(latencies),
        "refused": counts["refused"],
        "failed": counts["failed"],
        "errors": errors[:5],
    }


def sequential(operation: Callable[[], None], count: int, warmup: int) -> dict[str, Any]:
    """Latency of ``count`` operations run one after another (after ``warmup`` untimed)."""
    for _ in range(warmup):
        operation()
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        operation()
        latencies.append(time.perf_counter() - began)
    return {"count": count, **summarise(latencies)}


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None
