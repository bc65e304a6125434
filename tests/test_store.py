"""The store of record, on its own: what each write returns, what it leaves behind, and what it refuses. Every
test runs on both stores: the embedded SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import numpy as np
import pytest

from llm4tag.corpus.documents import Document
from llm4tag.corpus.knowledge import KnowledgeItem
from llm4tag.errors import InputError
from llm4tag.library.tags import Tag
from llm4tag.store.postgres import PostgresStore, migrate
from llm4tag.store.sqlite import SQLiteStore


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, tmp_path):
    """How to open the store (again, as another process would) on each engine."""
    if request.param == "sqlite":
        return lambda: SQLiteStore(tmp_path / "store.sqlite")
    url = request.getfixturevalue("postgres_url")
    migrate(url)
    return lambda: PostgresStore(url)


@pytest.fixture
def store(engine):
    store = engine()
    store.upsert_tags([Tag("chess", "Chess"), Tag("game", "Game", ("games",))])
    yield store
    store.close()


def test_tags_are_added_then_updated_only_when_they_changed(store):
    assert store.upsert_tags([Tag("chess", "Chess"), Tag("go", "Go")]) == (1, 0)
    assert store.upsert_tags([Tag("chess", "Chess", description="the board game")]) == (0, 1)
    assert store.upsert_tags([Tag("chess", "Chess", description="the board game")]) == (0, 0)
    assert store.tag_library()["chess"].description == "the board game" and store.count_tags() == 3
    assert store.deprecate_tags(["go", "unknown"]) == 1 and store.tag_library()["go"].deprecated
    with pytest.raises(InputError):
        store.upsert_tags([Tag("ok", "Fine"), Tag(" spaced", "Bad")])  # checked before anything is written
    assert "ok" not in store.tag_library()


def test_contents_and_annotations_round_trip_and_edits_move_the_revision(store):
    revision = store.revision
    docs = [Document("d1", "a chess engine", ["chess", "game"]), Document("d2", "a card game", ["game"])]
    assert store.upsert_contents(docs) == (2, 0)
    assert [r.id for r in store.content_rows()] == ["d1", "d2"]
    assert sorted(store.annotations()) == sorted([(1, "chess"), (1, "game"), (2, "game")])
    assert {d.id: sorted(d.tags) for d in store.get_contents(["d2", "d1"])} == {"d1": ["chess", "game"], "d2": ["game"]}
    assert store.remove_annotations("d1", ["chess"]) == 1 and store.revision > revision
    assert store.remove_annotations("nope", ["chess"]) == 0
    assert store.get_contents(["d1"])[0].tags == ["game"]


def test_a_transaction_inside_another_joins_it_and_a_failure_rolls_both_back(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert_contents([Document("d1", "first", ["chess"])])
        with store.transaction():
            store.upsert_contents([Document("d2", "second", ["game"])])
        raise RuntimeError("after both writes")
    assert store.count_contents() == 0
    with store.transaction():
        store.upsert_contents([Document("d1", "first", ["chess"])])
    assert store.count_contents() == 1


def test_knowledge_written_twice_is_stored_once(store):
    items = [
        KnowledgeItem("example", content_id="d1", text="shogi engine", tags=["chess"]),
        KnowledgeItem("note", tag_id="chess", note="includes variants"),
    ]
    assert store.add_knowledge(items) == 2
    assert store.add_knowledge(items + items) == 0
    assert [k.kind for k in store.knowledge()] == ["example", "note"]
    assert [k.note for k in store.knowledge(["note"])] == ["includes variants"]


def test_caches_keep_vectors_and_judgements_by_their_keys(store):
    vector = np.arange(4, dtype=np.float32)
    store.cache_vectors("model-a", {"h1": vector})
    assert np.array_equal(store.cached_vectors("model-a", ["h1", "h2"])["h1"], vector)
    assert store.cached_vectors("model-b", ["h1"]) == {}
    store.cache_judgements("judge-a", {("h1", "chess"): (0.8, False)})
    assert store.cached_judgements("judge-a", [("h1", "chess"), ("h1", "game")]) == {("h1", "chess"): (0.8, False)}


def test_the_review_queue_keeps_the_newest_items_and_resolves_by_content_and_tag(store):
    store.add_reviews([("d1", "text one", "chess", 0.3), ("d1", "text one", "game", 0.4)])
    store.add_reviews([("d2", "text two", "game", 0.2)], limit=2)
    pending = store.pending_reviews()
    assert len(pending) == 2 and {p["content_id"] for p in pending} == {"d1", "d2"}  # the oldest left
    assert store.resolve_reviews("d1", ["game"]) == 1
    assert [p["content_id"] for p in store.pending_reviews()] == ["d2"]


def test_another_connection_s_commit_is_seen_and_its_own_is_not(engine, store):
    assert not store.changed_elsewhere()
    store.upsert_tags([Tag("go", "Go")])
    assert not store.changed_elsewhere()  # its own write
    other = engine()
    try:
        other.upsert_tags([Tag("shogi", "Shogi")])
    finally:
        other.close()
    assert store.changed_elsewhere() and "shogi" in store.tag_library()
