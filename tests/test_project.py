"""Project on disk: incremental updates equal rebuilds; the cache avoids re-encoding; crashes are survivable."""

import json

import pytest
from tests.conftest import TINY_CONTENTS, TINY_TAGS, HashingEmbedder, write_jsonl

from llm4tag.errors import ConfigError, InputError
from llm4tag.library import Tag
from llm4tag.project import Project

QUERIES = ["chess game with sound", "network packet daemon", "music files", "checkmate"]


def recall_snapshot(project):
    return [[(c.tag_id, round(c.score, 5)) for c in r.candidates] for r in project.recall(QUERIES)]


def test_incremental_update_equals_rebuild(tmp_path, tiny_files, hashing_embedder):
    tags, _ = tiny_files
    first, rest = TINY_CONTENTS[:3], TINY_CONTENTS[3:]
    inc = Project.init(tmp_path / "inc", embedder=hashing_embedder)
    inc.add_tags(write_jsonl(tmp_path / "t1.jsonl", [t for t in TINY_TAGS if t["id"] != "audio"]))
    inc.add_contents(write_jsonl(tmp_path / "a.jsonl", first))
    inc.index()
    inc.add_tags(tags)  # one new tag
    inc.add_contents(write_jsonl(tmp_path / "b.jsonl", rest))
    report = inc.index()
    assert not report.rebuilt and report.contents_added == 3 and report.tags_added == 1

    full = Project.init(tmp_path / "full", embedder=HashingEmbedder())
    full.add_tags(tags)
    full.add_contents(write_jsonl(tmp_path / "all.jsonl", TINY_CONTENTS))
    assert full.index().rebuilt
    assert recall_snapshot(inc) == recall_snapshot(full)


def build_and_snapshot(directory, tiny_files, embedder):
    """Create, fill and index a project, close it, and return its recall snapshot."""
    tags, contents = tiny_files
    with Project.init(directory, embedder=embedder) as project:
        project.add_tags(tags)
        project.add_contents(contents)
        project.index()
        return recall_snapshot(project)


def test_reopened_project_loads_graph_without_reencoding(tmp_path, tiny_files):
    embedder = HashingEmbedder()
    before = build_and_snapshot(tmp_path / "p", tiny_files, embedder)
    encoded = embedder.encoded_texts
    with Project.open(tmp_path / "p", embedder=embedder) as project:
        report = project.index()
        assert not report.rebuilt and report.contents_added == 0
        assert recall_snapshot(project) == before
    # only the (new) query texts were encoded again, never the corpus
    assert embedder.encoded_texts == encoded


def test_graph_files_out_of_step_with_store_are_rebuilt_from_cache(tmp_path, tiny_files):
    embedder = HashingEmbedder()
    before = build_and_snapshot(tmp_path / "p", tiny_files, embedder)
    # simulate a crash midway through saving: one file truncated, state.json from before
    (tmp_path / "p" / "graph" / "content_vectors.npy").write_bytes(b"\x93NUMPY garbage")
    encoded = embedder.encoded_texts
    with Project.open(tmp_path / "p", embedder=embedder) as project:
        assert project.index().rebuilt
        assert recall_snapshot(project) == before
    assert embedder.encoded_texts == encoded  # rebuilt from cached vectors, nothing re-encoded


def test_failed_import_writes_nothing(tmp_path, tiny_files, hashing_embedder):
    tags, _ = tiny_files
    bad = write_jsonl(tmp_path / "bad.jsonl", [TINY_CONTENTS[0], {"id": "x", "text": "t", "tags": ["nope"]}])
    with Project.init(tmp_path / "p", embedder=hashing_embedder) as project:
        project.add_tags(tags)
        with pytest.raises(InputError, match="line 2"):
            project.add_contents(bad)
        assert project.store.count_contents() == 0
        added, _, report = project.add_contents(bad, on_unknown="skip")
        assert added == 2 and report.skipped_unknown_tags == 1


def test_updating_a_tag_rebuilds_without_reencoding_unchanged_texts(tmp_path, tiny_files):
    tags, contents = tiny_files
    embedder = HashingEmbedder()
    with Project.init(tmp_path / "p", embedder=embedder) as project:
        project.add_tags(tags)
        project.add_contents(contents)
        project.index()
        encoded = embedder.encoded_texts
        project.add_tags([Tag("audio", "Audio", description="sound, music and podcasts")])
        assert project.index().rebuilt
        assert embedder.encoded_texts == encoded + 1


def test_open_rejects_non_project_and_bad_config(tmp_path):
    with pytest.raises(ConfigError, match="not an llm4tag project"):
        Project.open(tmp_path)
    (tmp_path / "llm4tag.toml").write_text("[recall]\nbogus = 1\n")
    with pytest.raises(ConfigError, match="bogus"):
        Project.open(tmp_path)
    (tmp_path / "llm4tag.toml").write_text("[recall\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        Project.open(tmp_path)


def test_store_is_wal_and_config_round_trips(tmp_path, hashing_embedder):
    with Project.init(tmp_path / "p", embedder=hashing_embedder) as project:
        assert project.store.journal_mode == "wal" and not project.store.durable  # a killed process loses nothing
        assert (
            project.config.confidence.few_examples_min_confidence is None
        )  # unset: left out of the file (TOML has no null)
        project.config.recall.top_n = 12
        project.config.save(project.directory)
    with Project.open(tmp_path / "p", embedder=hashing_embedder) as project:
        assert project.config.recall.top_n == 12 and project.config.confidence.few_examples_min_confidence is None
        project.config.confidence.few_examples_min_confidence = 0.4
        project.config.save(project.directory)
    with Project.open(tmp_path / "p", embedder=hashing_embedder) as project:
        assert project.config.confidence.few_examples_min_confidence == 0.4
        assert json.loads(json.dumps(project.config.to_dict()))["recall"]["top_n"] == 12


def test_what_another_process_learns_is_recalled_from_the_next_call(tmp_path, tiny_files):
    """Two service workers on one project each hold the project open: a content learned through one is a
    neighbour in the other's very next recall, and a tag added through one is in the other's library."""
    from llm4tag.corpus.knowledge import KnowledgeItem

    build_and_snapshot(tmp_path / "p", tiny_files, HashingEmbedder())
    query = "zither lessons for beginners"
    with (
        Project.open(tmp_path / "p", embedder=HashingEmbedder()) as writer,
        Project.open(tmp_path / "p", embedder=HashingEmbedder()) as reader,
    ):
        [before] = reader.recall([query])
        assert "zither" not in reader.library and all(n != "z1" for n, _ in before.neighbours)
        writer.add_tags([Tag(id="zither", label="Zither", description="a stringed instrument")])
        writer.learn([KnowledgeItem.feedback("zither lessons and zither tuning", ["zither", "audio"], [], "z1")])
        [after] = reader.recall([query])
        assert "zither" in reader.library
        assert after.neighbours[0][0] == "z1"
        assert "zither" in {c.tag_id for c in after.candidates}
        reader_files = sorted(p.stat().st_mtime_ns for p in (tmp_path / "p" / "graph").glob("*.np*"))
        [again] = reader.recall([query])  # nothing changed since: the same answer, no files written by the reader
        assert [c.tag_id for c in again.candidates] == [c.tag_id for c in after.candidates]
        assert sorted(p.stat().st_mtime_ns for p in (tmp_path / "p" / "graph").glob("*.np*")) == reader_files
