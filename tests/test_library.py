import json

import pytest

from llm4tag.errors import InputError
from llm4tag.library import Tag, TagLibrary, load_tag_library


def write(path, text, mode="w"):
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_library_with_all_fields(tmp_path):
    path = write(
        tmp_path / "tags.jsonl",
        "\n".join(
            json.dumps(r)
            for r in [
                {"id": "lang", "label": "Language"},
                {
                    "id": "lang:py",
                    "label": "Python",
                    "aliases": ["py", "python3"],
                    "description": "The Python language",
                    "parent": "lang",
                    "facet": "devel",
                },
            ]
        )
        + "\n",
    )
    library = load_tag_library(path)
    assert len(library) == 2
    python = library["lang:py"]
    assert python.aliases == ("py", "python3")
    assert python.parent == "lang"
    assert python.meta == {"facet": "devel"}
    assert python.text() == "Python (py, python3): The Python language"
    assert library.by_name()["python3"] == "lang:py"


def test_csv_and_tsv_with_header(tmp_path):
    csv_path = write(tmp_path / "tags.csv", 'id,label,aliases,description\nnet,Networking,"lan|wan",Network tools\n')
    tsv_path = write(tmp_path / "tags.tsv", "id\tlabel\nnet\tNetworking\n")
    assert load_tag_library(csv_path)["net"].aliases == ("lan", "wan")
    assert load_tag_library(tsv_path)["net"].label == "Networking"


def test_annif_vocabulary_tsv(tmp_path):
    path = write(tmp_path / "vocab.tsv", "<http://example.org/a>\tApples\n<http://example.org/b>\tBananas\n")
    library = load_tag_library(path)
    assert library.ids == ["http://example.org/a", "http://example.org/b"]
    assert library["http://example.org/b"].label == "Bananas"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"id": "a", "label": "A"}\n{"id": "a", "label": "Again"}\n', ["line 2", "field 'id'", "duplicate"]),
        ('{"id": "a", "label": "  "}\n', ["line 1", "field 'label'", "empty"]),
        ('{"id": "a", "label": "A"}\n{"id": "b", "label": \n', ["line 2", "malformed JSON"]),
        ('{"label": "A"}\n', ["line 1", "field 'id'", "missing"]),
        ('["a", "b"]\n', ["line 1", "expected a JSON object"]),
        ('{"id": "a", "label": "A", "parent": "zzz"}\n', ["line 1", "field 'parent'", "not in the library"]),
        ("\n\n", ["empty"]),
    ],
)
def test_library_errors_point_at_file_line_and_field(tmp_path, content, expected):
    path = write(tmp_path / "tags.jsonl", content)
    with pytest.raises(InputError) as info:
        load_tag_library(path)
    message = str(info.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_wrong_encoding_is_reported_with_line(tmp_path):
    path = write(tmp_path / "tags.jsonl", b'{"id": "a", "label": "A"}\n{"id": "b", "label": "caf\xe9"}\n', "wb")
    with pytest.raises(InputError, match=r"line 2.*UTF-8"):
        load_tag_library(path)


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_tag_library(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="cannot tell the format"):
        load_tag_library(write(tmp_path / "tags.xml", "<x/>"))


def test_library_rejects_duplicates_and_keeps_order():
    library = TagLibrary([Tag("b", "B"), Tag("a", "A", deprecated=True)])
    assert library.ids == ["b", "a"]
    assert [t.id for t in library.active()] == ["b"]
    with pytest.raises(InputError, match="duplicate"):
        library.add(Tag("a", "Again"))
