"""Bad input and half-finished work: atomic init, resume files, CSV edge cases, learn field types, text size,
typed configuration, SKOS vocabularies. Each mistake is one line naming the file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import TINY_CONTENTS, TINY_TAGS, run_cli, write_jsonl

from llm4tag.config import CONFIG_NAME, ProjectConfig
from llm4tag.corpus.knowledge import read_learn_file
from llm4tag.corpus.loaders import load_corpus
from llm4tag.errors import ConfigError, InputError
from llm4tag.library.loaders import load_tag_library
from llm4tag.library.tags import Tag, TagLibrary

DATA = Path(__file__).parent / "data"


# -- init is all or nothing ---------------------------------------------------------------------------------
def test_init_with_a_bad_corpus_leaves_no_half_made_project(tmp_path, tiny_files, capsys):
    tags, _ = tiny_files
    bad = write_jsonl(tmp_path / "bad.jsonl", [TINY_CONTENTS[0], {"id": "x", "text": "t", "tags": ["nope"]}])
    target = tmp_path / "p"
    code, _, err = run_cli(["init", str(target), "--tags", str(tags), "--corpus", str(bad)], capsys)
    assert code == 2 and "line 2" in err and "nope" in err
    assert not (target / CONFIG_NAME).exists() and not (target / "store.sqlite").exists()
    good = write_jsonl(tmp_path / "good.jsonl", TINY_CONTENTS)
    code, out, _ = run_cli(["init", str(target), "--tags", str(tags), "--corpus", str(good)], capsys)
    assert code == 0 and "contents: 6 added" in out  # the next init is not refused as "already a project"


def test_init_force_with_a_bad_tag_file_keeps_the_old_configuration(tmp_path, tiny_files, capsys):
    tags, contents = tiny_files
    target = tmp_path / "p"
    assert run_cli(["init", str(target), "--tags", str(tags), "--llm", "openai", "--llm-model", "m"], capsys)[0] == 0
    before = (target / CONFIG_NAME).read_bytes()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "label": "A"}\n{"id": "b"}\n', encoding="utf-8")
    code, _, err = run_cli(["init", str(target), "--tags", str(bad), "--force"], capsys)
    assert code == 2 and "line 2" in err and "label" in err
    assert (target / CONFIG_NAME).read_bytes() == before
    # --force with a corpus may use the tags already in the store
    code, out, _ = run_cli(["init", str(target), "--force", "--corpus", str(contents)], capsys)
    assert code == 0 and "contents: 6 added" in out


# -- batch output and resume --------------------------------------------------------------------------------
def test_tag_output_onto_its_own_input_or_a_foreign_file_is_refused(tmp_path, tiny_files, capsys):
    tags, contents = tiny_files
    project = str(tmp_path / "p")
    config = ProjectConfig(name="p")
    config.embedding.backend, config.embedding.options = "tests.conftest:HashingEmbedder", {}
    config.generation.enabled, config.pipeline.judge = False, "none"
    from llm4tag.project import Project

    Project.init(project, config, tags=tags, corpus=contents).close()
    before = contents.read_bytes()
    code, _, err = run_cli(["tag", "-p", project, "--input", str(contents), "-o", str(contents), "-q"], capsys)
    assert code == 2 and "output is the input" in err
    foreign = tmp_path / "other.jsonl"
    foreign.write_bytes(before)
    code, _, err = run_cli(["tag", "-p", project, "--input", str(contents), "-o", str(foreign), "-q"], capsys)
    assert code == 2 and "not an llm4tag result line" in err and "line 1" in err
    assert contents.read_bytes() == before and foreign.read_bytes() == before
    out = tmp_path / "out.jsonl"
    assert run_cli(["tag", "-p", project, "--input", str(contents), "-o", str(out), "-q"], capsys)[0] == 0
    code, _, err = run_cli(["tag", "-p", project, "--input", str(contents), "-o", str(out), "-q"], capsys)
    assert code == 0 and "skipped 6 already done" in err  # a real result file still resumes


# -- CSV ----------------------------------------------------------------------------------------------------
def test_csv_keeps_quoted_newlines_long_fields_and_the_line_a_row_starts_on(tmp_path):
    long_text = "word " * 40_000  # 200 KB, over the csv module's default field limit
    path = tmp_path / "corpus.csv"
    path.write_text(
        'id,text,tags\na,"first line\nsecond line",net\nb,"' + long_text + '",game\nc,x,"net|daemon|oops"\n',
        encoding="utf-8",
    )
    library = TagLibrary(Tag(t["id"], t["label"]) for t in TINY_TAGS)
    with pytest.raises(InputError) as caught:
        load_corpus(path, library=library)
    assert "line 5" in str(caught.value) and "oops" in str(caught.value)  # row c starts on line 5
    docs = load_corpus(path, library=library, on_unknown="skip")
    assert docs[0].text == "first line\nsecond line" and len(docs[1].text) == len(long_text.strip())


@pytest.mark.parametrize(
    ("kind", "content", "expected"),
    [
        ("corpus", "a,some text,net\n", "header"),
        ("tags", "net,Networking\n", "header"),
        ("corpus", 'id,text,tags\na,"never closed\n', "malformed CSV"),
    ],
)
def test_csv_without_a_header_or_malformed_is_a_pointed_error(tmp_path, kind, content, expected):
    path = tmp_path / "file.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_corpus(path) if kind == "corpus" else load_tag_library(path)
    assert expected in str(caught.value) and str(path) in str(caught.value)


# -- learn files and text size --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"text": "t", "tags": ["net"], "created_at": "yesterday"}, "created_at"),
        ({"text": "t", "tags": ["net"], "id": {"nested": 1}}, "id"),
        ({"text": "t" * 50, "tags": ["net"]}, "text"),
    ],
)
def test_learn_file_field_types_are_checked(tmp_path, item, field):
    library = TagLibrary(Tag(t["id"], t["label"]) for t in TINY_TAGS)
    path = write_jsonl(tmp_path / "learn.jsonl", [{"text": "fine", "tags": ["net"]}, item])
    with pytest.raises(InputError) as caught:
        read_learn_file(path, library, max_text_chars=40)
    assert "line 2" in str(caught.value) and f"field '{field}'" in str(caught.value)


def test_learn_accepts_iso_dates_and_numeric_ids(tmp_path):
    library = TagLibrary(Tag(t["id"], t["label"]) for t in TINY_TAGS)
    path = write_jsonl(
        tmp_path / "learn.jsonl",
        [{"text": "a", "tags": ["net"], "created_at": "2026-11-26T08:00:00Z", "id": 7}],
    )
    [item] = read_learn_file(path, library)
    assert item.created_at == 1795680000.0 and item.content_id == "7"


def test_cli_refuses_a_text_over_the_limit_with_file_and_line(tmp_path, tiny_files, capsys):
    tags, _ = tiny_files
    config_dir = tmp_path / "p"
    code, _, _ = run_cli(["init", str(config_dir), "--tags", str(tags)], capsys)
    config = ProjectConfig.load(config_dir)
    config.index.max_text_chars = 1000
    config.save(config_dir)
    big = write_jsonl(tmp_path / "big.jsonl", [TINY_CONTENTS[0], {"id": "huge", "text": "x " * 5000, "tags": []}])
    code, _, err = run_cli(["add", "-p", str(config_dir), str(big), "--no-index"], capsys)
    assert code == 2 and "line 2" in err and "field 'text'" in err and "max_text_chars" in err


# -- configuration --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[generation]\nenabled = "no"\n', "[generation] enabled: expected true or false"),
        ('[recall.weights]\nc2t = "high"\n', "weights.c2t: expected a number"),
        ("[generation]\nmax_tags = -1\n", "at least 0"),
        ("[recall]\ntop_n = 1.5\n", "expected an integer"),
        ("[service]\napi_keys = [1]\n", "expected a string"),
        ("[serivce]\nport = 1\n", "unknown section(s) [serivce]"),
        ("[confidence]\njudge = 'maybe'\n", "judge must be one of"),
        ("[project]\nname = 3\n", "expected a non-empty string"),
    ],
)
def test_config_values_are_type_and_range_checked(tmp_path, toml, expected):
    (tmp_path / CONFIG_NAME).write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        ProjectConfig.load(tmp_path)
    assert expected in str(caught.value) and CONFIG_NAME in str(caught.value)


def test_a_weights_table_that_leaves_paths_out_says_they_are_off(tmp_path, caplog):
    (tmp_path / CONFIG_NAME).write_text("[recall.weights]\nc2c2t = 1.0\nsupervised = 0.0\n", encoding="utf-8")
    with caplog.at_level("WARNING"):
        config = ProjectConfig.load(tmp_path)
    assert config.recall.active_paths == ("c2c2t",)  # the table is the whole set of weights, as documented
    assert "does not list c2t, c2t2t, lexical, tree, mlp, so those paths are off" in caplog.text
    assert "'tree = 1.0'" in caplog.text and CONFIG_NAME in caplog.text
    caplog.clear()
    ProjectConfig(name="x").save(tmp_path)  # what init writes lists every path: nothing to say
    with caplog.at_level("WARNING"):
        ProjectConfig.load(tmp_path)
    assert "recall.weights" not in caplog.text


def test_config_round_trips_with_language(tmp_path):
    config = ProjectConfig(name="x", language="fi")
    config.save(tmp_path)
    assert ProjectConfig.load(tmp_path) == config


# -- SKOS -------------------------------------------------------------------------------------------------------
def test_skos_turtle_and_rdfxml_give_the_same_library():
    turtle = load_tag_library(DATA / "vocab.ttl")
    rdfxml = load_tag_library(DATA / "vocab.rdf")
    assert [t.to_dict() for t in turtle] == [t.to_dict() for t in rdfxml]
    net = turtle["http://example.org/vocab/networking"]
    assert net.label == "Networking" and set(net.aliases) == {"Network tools", "Packets"}
    assert net.description.startswith("Tools for networks")
    assert turtle["http://example.org/vocab/sniffer"].parent == "http://example.org/vocab/networking"
    assert turtle["http://example.org/vocab/gopher"].deprecated
    finnish = load_tag_library(DATA / "vocab.ttl", language="fi")
    assert finnish["http://example.org/vocab/networking"].label == "Tietoverkot"
    assert finnish["http://example.org/vocab/chess"].label == "Chess"  # no Finnish label: the untagged one


def test_bad_skos_is_one_line_with_the_line(tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n\n<a> skos:prefLabel 'x' ;;; oops\n")
    with pytest.raises(InputError) as caught:
        load_tag_library(bad)
    assert "bad.ttl" in str(caught.value) and "line 3" in str(caught.value)
    empty = tmp_path / "empty.ttl"
    empty.write_text("@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n")
    with pytest.raises(InputError, match="no skos:Concept"):
        load_tag_library(empty)


@pytest.mark.slow
def test_init_with_a_skos_vocabulary_end_to_end(tmp_path, capsys):
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"id": "1", "text": "packet capture on network interfaces", "tags": ["http://example.org/vocab/sniffer"]},
            {"id": "2", "text": "play chess against the computer", "tags": ["http://example.org/vocab/chess"]},
        ],
    )
    project = str(tmp_path / "p")
    code, out, _ = run_cli(["init", project, "--tags", str(DATA / "vocab.ttl"), "--corpus", str(corpus)], capsys)
    assert code == 0 and "tags: 5 added" in out and "contents: 2 added" in out
    assert run_cli(["index", "-p", project], capsys)[0] == 0
    code, out, _ = run_cli(["recall", "-p", project, "--text", "a checkmate puzzle for the chess board"], capsys)
    [record] = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and record["candidates"][0]["tag_id"] == "http://example.org/vocab/chess"
