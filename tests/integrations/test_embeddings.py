"""all-MiniLM-L6-v2's runtimes: the ONNX Runtime graph built from the weights gives the NumPy forward
pass's vectors (and both give sentence-transformers' where that is installed), the graph is kept beside
the model's files and reused, and similar questions land near the article that answers them. Run where
the model's files are installed (`make install` puts them in the venv); the comparison with
sentence-transformers only after `make semantic`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from portal.integrations import embeddings as emb

pytestmark = pytest.mark.skipif(emb.model_dir() is None, reason="the model's files are not installed")

TEXTS = ["can I get my money back", "Refunds: when the money reaches your card", "my parcel never arrived",
         "Parcel marked as delivered but not received"]


def _directory() -> Path:
    directory = emb.model_dir()
    assert directory is not None
    return directory


def test_numpy_runtime_matches_sentence_transformers() -> None:
    pytest.importorskip("sentence_transformers")
    ours = emb.MiniLM(_directory()).encode(TEXTS)
    reference = emb.TorchMiniLM(_directory()).encode(TEXTS)
    assert abs(ours - reference).max() < 1e-4


def test_onnx_runtime_gives_the_numpy_vectors() -> None:
    # Different lengths in one batch (padding masked), an empty text, one past the 256-token limit.
    texts = [*TEXTS, "", "where is my order " * 120, "Wo ist meine Bestellung?"]
    reference = emb.MiniLM(_directory()).encode(texts)
    ours = emb.OnnxMiniLM(_directory()).encode(texts)
    assert ours.shape == reference.shape == (len(texts), emb.DIM)
    assert abs(ours - reference).max() < 1e-5
    # One text alone gets the vector it got in the batch
    assert abs(emb.OnnxMiniLM(_directory()).encode([texts[2]])[0] - reference[2]).max() < 1e-5
    # Positive control: the comparison tells different texts apart
    assert abs(ours[0] - reference[1]).max() > 1e-2


def _model_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        shutil.copy2(_directory() / name, copy / name)
    return copy


def test_the_graph_is_kept_beside_the_model_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _model_copy(tmp_path)
    first = emb.OnnxMiniLM(directory).encode(TEXTS)
    kept = list((directory / ".onnx").iterdir())
    assert len(kept) == 1 and (kept[0] / "model.onnx").is_file() and (kept[0] / "weights.bin").is_file()

    # The next worker loads the kept file: it builds no graph
    def no_build(*a: object, **k: object) -> None:
        raise AssertionError("the graph was built again")

    monkeypatch.setattr(emb, "_onnx_graph", no_build)
    assert abs(emb.OnnxMiniLM(directory).encode(TEXTS) - first).max() == 0
    monkeypatch.undo()

    # New weights (a reinstalled model) are a new graph; the old one is removed
    os.utime(directory / "model.safetensors", ns=(1, 1))
    with pytest.raises(AssertionError, match="built again"):
        monkeypatch.setattr(emb, "_onnx_graph", no_build)
        emb.OnnxMiniLM(directory)
    monkeypatch.undo()
    emb.OnnxMiniLM(directory)
    rebuilt = list((directory / ".onnx").iterdir())
    assert len(rebuilt) == 1 and rebuilt[0].name != kept[0].name


def test_where_the_graph_cannot_be_kept_it_is_built_in_memory(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    directory = _model_copy(tmp_path)

    def refused(*a: object, **k: object) -> str:
        raise PermissionError("read-only")

    monkeypatch.setattr(emb.tempfile, "mkdtemp", refused)
    vectors = emb.OnnxMiniLM(directory).encode(TEXTS)
    assert not any((directory / ".onnx").iterdir())
    assert abs(vectors - emb.MiniLM(directory).encode(TEXTS)).max() < 1e-5


def test_a_worker_runs_the_onnx_runtime_without_pytorch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        assert isinstance(emb._best_runtime(_directory()), emb.OnnxMiniLM)
    else:
        runtime = emb._best_runtime(_directory())
        assert isinstance(runtime, emb.SplitRuntime) and isinstance(runtime.short, emb.OnnxMiniLM)


def test_a_question_is_closest_to_its_answer() -> None:
    v = emb.OnnxMiniLM(_directory()).encode(TEXTS)
    sims = v @ v.T
    assert sims[0, 1] > sims[0, 3] and sims[2, 3] > sims[2, 1]
    # Stored as little-endian float32 bytes and read back unchanged
    assert (emb.from_bytes(emb.to_bytes(v[0])) == v[0]).all()
