"""One question's embedding by each runtime of all-MiniLM-L6-v2, side by side in one run.

    .venv/bin/python bench/embed_runtimes.py [--seconds 8] [--busy 3]

NumPy (`MiniLM`, the reference, with one OpenBLAS thread as the portal sets) against ONNX Runtime
(`OnnxMiniLM`, what a worker uses) with one and with two threads: each encodes five customer
questions in turn for --seconds, one at a time as a search does. --busy N also runs N busy loops
(processes at the same priority) meanwhile, as on a machine whose cores are taken. Prints p50, p95 and
max per runtime, and each one's p50 and p95 as a ratio of NumPy's in the same run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable
from typing import Any

from portal.integrations import embeddings as emb

QUESTIONS = ["when will my stuff get here", "I typed the wrong street when I bought something",
             "how do I return a damaged item for a refund", "cancel order", "mi pedido no ha llegado todavía"]


def _busy(until: float) -> None:
    while time.time() < until:
        pass


def _time(make: Callable[[], Any], seconds: float) -> tuple[float, float, float]:
    model = make()
    for q in QUESTIONS:
        model.encode([q])
    times: list[float] = []
    end = time.time() + seconds
    while time.time() < end:
        for q in QUESTIONS:
            start = time.perf_counter()
            model.encode([q])
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.95)], times[-1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--busy", type=int, default=0, help="busy loops running meanwhile")
    args = parser.parse_args()
    directory = emb.model_dir()
    if directory is None:
        print("the model's files are not installed (make install)")
        return 2

    def onnx(threads: int) -> Callable[[], Any]:
        def make() -> Any:
            emb.ONNX_THREADS = threads
            return emb.OnnxMiniLM(directory)
        return make

    runs: list[tuple[str, Callable[[], Any]]] = [("NumPy (MiniLM)", lambda: emb.MiniLM(directory)),
                                                 ("ONNX Runtime, 1 thread", onnx(1)),
                                                 ("ONNX Runtime, 2 threads", onnx(2))]
    busy = [multiprocessing.Process(target=_busy, args=(time.time() + 3600,), daemon=True) for _ in range(args.busy)]
    for p in busy:
        p.start()
    try:
        results = [(label, _time(make, args.seconds)) for label, make in runs]
    finally:
        for p in busy:
            p.terminate()
    print(f"one question, ms ({args.busy} busy loops beside it, {multiprocessing.cpu_count()} cores)")
    print(f"{'runtime':28}{'p50':>8}{'p95':>8}{'max':>8}   p50 / NumPy   p95 / NumPy")
    base50, base95, _ = results[0][1]
    for label, (p50, p95, top) in results:
        print(f"{label:28}{p50:>8.2f}{p95:>8.2f}{top:>8.1f}   {p50 / base50:>10.2f}x  {p95 / base95:>10.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
