"""The NumPy runtime of all-MiniLM-L6-v2 gives the same vectors as sentence-transformers, and
similar questions land near the article that answers them. Run where the model's files are installed (`make
install` puts them in the venv); the comparison with sentence-transformers only after `make semantic`."""

from __future__ import annotations

import pytest

from portal.integrations import embeddings as emb

pytestmark = pytest.mark.skipif(emb.model_dir() is None, reason="the model's files are not installed")

TEXTS = ["can I get my money back", "Refunds: when the money reaches your card", "my parcel never arrived",
         "Parcel marked as delivered but not received"]


def test_numpy_runtime_matches_sentence_transformers() -> None:
    pytest.importorskip("sentence_transformers")
    directory = emb.model_dir()
    assert directory is not None
    ours = emb.MiniLM(directory).encode(TEXTS)
    reference = emb.TorchMiniLM(directory).encode(TEXTS)
    assert abs(ours - reference).max() < 1e-4


def test_a_question_is_closest_to_its_answer() -> None:
    directory = emb.model_dir()
    assert directory is not None
    v = emb.MiniLM(directory).encode(TEXTS)
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 3] and sims[2, 3] > sims[2, 1]
    # Stored as little-endian float32 bytes and read back unchanged
    assert (emb.from_bytes(emb.to_bytes(v[0])) == v[0]).all()
