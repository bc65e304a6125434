import json

import pytest

from llm4tag.corpus import LoadReport, iter_corpus, load_corpus
from llm4tag.errors import InputError
from llm4tag.library import Tag, TagLibrary

LIBRARY = TagLibrary([Tag("net", "Networking"), Tag("http://ex.org/game", "Games")])


def test_jsonl_corpus(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(
        json.dumps({"id": "1", "text": "ping tool", "tags": ["net"], "lang": "en"})
        + "\n\n"
        + json.dumps({"id": "2", "text": "no tags yet"})
        + "\n",
        encoding="utf-8",
    )
    docs = load_corpus(path, library=LIBRARY)
    assert [d.id for d in docs] == ["1", "2"]
    assert docs[0].tags == ["net"] and docs[0].meta == {"lang": "en"}
    assert docs[1].tags == []


def test_annif_corpus_tsv(tmp_path):
    path = tmp_path / "corpus.tsv"
    path.write_text("A chess game\t<http://ex.org/game>\nPacket sniffer\tnet\n", encoding="utf-8")
    docs = load_corpus(path, library=LIBRARY)
    assert docs[0].tags == ["http://ex.org/game"]
    assert docs[1].text == "Packet sniffer" and docs[1].tags == ["net"]


def test_directory_corpus(tmp_path):
    (tmp_path / "a.txt").write_text("Routing daemon\n", encoding="utf-8")
    (tmp_path / "a.tags").write_text("net\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Unlabelled\n", encoding="utf-8")
    docs = load_corpus(tmp_path, library=LIBRARY)
    assert [(d.id, d.tags) for d in docs] == [("a", ["net"]), ("b", [])]


def test_unknown_tags_error_or_skip_with_count(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "1", "text": "x", "tags": ["net", "bogus"]}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 1.*field 'tags'.*bogus"):
        load_corpus(path, library=LIBRARY)
    report = LoadReport()
    docs = list(iter_corpus(path, library=LIBRARY, on_unknown="skip", report=report))
    assert docs[0].tags == ["net"]
    assert report.skipped_unknown_tags == 1 and report.unknown_tag_examples == ["bogus"]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([{"id": "1", "text": "x"}, {"id": "1", "text": "y"}], ["line 2", "duplicate document id"]),
        ([{"id": "1", "text": ""}], ["line 1", "field 'text'"]),
        ([{"id": "1", "text": "x", "tags": [1, 2]}], ["line 1", "field 'tags'", "list of strings"]),
    ],
)
def test_corpus_errors(tmp_path, lines, expected):
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_corpus(path, library=LIBRARY)
    for part in expected:
        assert part in str(info.value)


def test_corpus_streams_lazily(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "1", "text": "x"}) + "\n{broken\n", encoding="utf-8")
    stream = iter_corpus(path)
    assert next(stream).id == "1"  # the first document arrives before the bad line is read
    with pytest.raises(InputError, match="line 2"):
        next(stream)
