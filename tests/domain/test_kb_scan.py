"""The vector scan of a large help center runs in two halves on two threads: the same similarities,
row for row, as one product."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from portal.domain import kb


@pytest.mark.parametrize("rows", [kb.SPLIT_SCAN_ROWS - 1, kb.SPLIT_SCAN_ROWS * 2 + 7, 50_001, 99_999])
def test_the_split_scan_gives_the_same_similarities(rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    matrix = rng.standard_normal((rows, 384)).astype(np.float32)
    qvec = rng.standard_normal(384).astype(np.float32)
    threads: set[str] = set()
    real = np.matmul

    def watched(*a: object) -> object:
        threads.add(threading.current_thread().name)
        return real(*a)

    monkeypatch.setattr(np, "matmul", watched)
    sims = kb._similarities(matrix, qvec)
    assert sims.shape == (rows,)
    assert np.array_equal(sims, matrix @ qvec)
    # the second half ran on the embedding pool (only for a large matrix)
    assert bool(threads) == (rows >= kb.SPLIT_SCAN_ROWS)
    assert all(t.startswith("portal-kb-embed") for t in threads)
