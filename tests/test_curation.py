"""What curators read beside each tag: its place in the hierarchy (the ``path`` in every result, and
``[prune] hierarchy``), its label in the reader's language (SKOS labels in every language, with fall-back),
and the evidence for it (``"explain": true``). On the two-language SKOS vocabulary of tests/data, and a
debtags project for the evidence; the recall stage, the store and the service are real, the embedder is the
tests' hashing one."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import LOOPBACK, debtags_project, recall_only_project

from llm4tag.calibration.pruning import apply_hierarchy
from llm4tag.config import ProjectConfig
from llm4tag.corpus import Document
from llm4tag.errors import ConfigError, InputError
from llm4tag.library.loaders import load_tag_library
from llm4tag.library.tags import Tag, TagLibrary
from llm4tag.project import Project
from llm4tag.recall.learned import new_path
from llm4tag.service import create_app

TTL = Path(__file__).parent / "data" / "vocab.ttl"
V = "http://example.org/vocab/"
NET, SNIFFER, GAMES, CHESS = V + "networking", V + "sniffer", V + "games", V + "chess"


# -- the library ----------------------------------------------------------------------------------
def test_skos_labels_in_every_language_with_fall_back():
    library = load_tag_library(TTL)
    net, sniffer, chess = library[NET], library[SNIFFER], library[CHESS]
    assert net.label == "Networking" and net.label_in("fi") == "Tietoverkot" and net.label_in("en") == "Networking"
    assert sniffer.label_in("fi") == "Packet sniffers"  # no Finnish label: the project's
    assert net.aliases_in("fi") == ["Verkkotyökalut"] and set(net.aliases_in("de")) == {"Network tools", "Packets"}
    assert {"Tietoverkot", "Verkkotyökalut", "Network tools"} <= set(net.names())  # matched in every language
    assert chess.labels() == {}  # no language tags: one language
    assert library.languages() == ["en", "fi"]
    assert load_tag_library(TTL.with_suffix(".rdf"))[NET].labels() == net.labels()


def test_labels_in_a_tag_file_are_checked_like_labels(tmp_path):
    good = tmp_path / "tags.jsonl"
    good.write_text(
        json.dumps({"id": "a", "label": "Apple", "labels": {"fi": "Omena"}, "alt_labels": {"fi": ["Omppu"]}})
    )
    tag = load_tag_library(good)["a"]
    assert tag.label_in("fi") == "Omena" and "Omppu" in tag.names()
    for bad in ({"fi": ""}, {"fi": "x\x00"}, ["Omena"], {"": "Omena"}):
        path = tmp_path / "bad.jsonl"
        path.write_text(json.dumps({"id": "a", "label": "Apple", "labels": bad}))
        with pytest.raises(InputError) as caught:
            load_tag_library(path)
        assert "labels" in str(caught.value) and "bad.jsonl" in str(caught.value)


def test_ancestors_root_first_and_a_cycle_does_not_hang():
    library = TagLibrary(
        [
            Tag("a", "A"),
            Tag("b", "B", parent="a"),
            Tag("c", "C", parent="b"),
            Tag("x", "X", parent="y"),
            Tag("y", "Y", parent="x"),
            Tag("orphan", "O", parent="missing"),
        ]  # fmt: skip
    )
    assert [t.id for t in library.ancestors("c")] == ["a", "b"]
    assert library.ancestors("a") == [] and library.ancestors("orphan") == []
    assert [t.id for t in library.ancestors("x")] == ["y"]
    assert library.has_children() == {"a", "b", "x", "y"}


def test_the_hierarchy_options_of_the_final_tag_set():
    library = TagLibrary([Tag("a", "A"), Tag("b", "B", parent="a"), Tag("c", "C", parent="b"), Tag("d", "D")])
    kept = ["c", "d", "a"]
    assert apply_hierarchy(kept, "none", library) == [("c", None), ("d", None), ("a", None)]
    assert apply_hierarchy(kept, "add-ancestors", library) == [("c", None), ("d", None), ("a", None), ("b", "c")]
    assert apply_hierarchy(kept, "drop-redundant-ancestors", library) == [("c", None), ("d", None)]
    with pytest.raises(ConfigError, match="hierarchy must be one of"):
        ProjectConfig.from_dict({"prune": {"hierarchy": "everything"}})
    assert ProjectConfig.from_dict({"prune": {"hierarchy": "add-ancestors"}}).prune.hierarchy == "add-ancestors"


# -- a project on the SKOS vocabulary ---------------------------------------------------------------------------
CONTENTS = [
    Document("c1", "captures network packets on the wire", [SNIFFER]),
    Document("c2", "a network protocol analyser for packets", [SNIFFER]),
    Document("c3", "sniffs packets from network interfaces", [SNIFFER]),
    Document("c4", "play chess against the computer", [CHESS]),
    Document("c5", "chess board and checkmate puzzles", [CHESS]),
]
SNIFFING = "sniffs network packets and captures them"


@pytest.fixture(scope="module")
def skos_project_dir(tmp_path_factory):
    return recall_only_project(tmp_path_factory.mktemp("curation") / "p", TTL, CONTENTS, name="vocab")


def test_results_carry_the_path_and_the_hierarchy_options_change_the_final_set(skos_project_dir):
    with Project.open(skos_project_dir) as project:
        [plain] = project.tag([SNIFFING], prune=False)
        assert plain.ranked[0].tag_id == SNIFFER
        shown = plain.to_dict(library=project.library, language="fi")
        sniffer = next(t for t in shown["tags"] if t["tag_id"] == SNIFFER)
        assert sniffer["path"] == [{"id": NET, "label": "Tietoverkot"}] and sniffer["label"] == "Packet sniffers"

        [none] = project.tag([SNIFFING], hierarchy="none")
        [added] = project.tag([SNIFFING], hierarchy="add-ancestors")
        [dropped] = project.tag([SNIFFING], hierarchy="drop-redundant-ancestors")
        kept = [t.tag_id for t in none.tags]
        library = project.library
        above = {a.id for t in kept for a in library.ancestors(t)}
        assert SNIFFER in kept and NET in above
        assert [t.tag_id for t in dropped.tags] == [t for t in kept if t not in above]
        assert [t.tag_id for t in added.tags][: len(kept)] == kept
        assert set(t.tag_id for t in added.tags) == set(kept) | above

        project.config.prune.hierarchy = "drop-redundant-ancestors"  # what [prune] hierarchy sets
        options = type(project.pipeline().options).offered(project.config)
        assert options.hierarchy == "drop-redundant-ancestors"


def test_an_added_ancestor_is_as_likely_right_as_the_tag_that_brought_it():
    from llm4tag.calibration.pruning import Pruning
    from llm4tag.pipeline.results import TagAssignment
    from llm4tag.pipeline.stages import PruneStage

    library = load_tag_library(TTL)
    stage = PruneStage(Pruning(0.0, 8), 0.0, "add-ancestors", store=_LibraryOnly(library))
    sniffer = TagAssignment(SNIFFER, "Packet sniffers", 0.9, "recall")
    weak_net = TagAssignment(NET, "Networking", 0.2, "recall", paths={"c2t": 0.1})
    out = stage._with_hierarchy([sniffer], {SNIFFER: sniffer, NET: weak_net}, library)
    assert [t.tag_id for t in out] == [SNIFFER, NET]
    assert out[1].source == "hierarchy" and out[1].score == 0.9 and out[1].paths == {"c2t": 0.1}
    strong_net = TagAssignment(NET, "Networking", 0.95, "recall")
    assert stage._with_hierarchy([sniffer], {NET: strong_net}, library)[1] is strong_net


class _LibraryOnly:
    """What the prune stage reads of a store: the tag library."""

    def __init__(self, library):
        self.library = library

    def tag_library(self):
        return self.library


def test_the_api_shows_paths_and_labels_in_the_readers_language(skos_project_dir):
    with Project.open(skos_project_dir) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        assert client.get("/v1/languages").json() == {"default": "en", "languages": ["en", "fi"]}
        body = client.post("/v1/tag", json={"text": SNIFFING, "language": "fi", "candidates": True}).json()
        sniffer = next(t for t in body["tags"] if t["tag_id"] == SNIFFER)
        assert sniffer["path"] == [{"id": NET, "label": "Tietoverkot"}]
        candidates = {c["tag_id"]: c for c in body["candidates"]}
        assert candidates[SNIFFER]["path"] == [{"id": NET, "label": "Tietoverkot"}]
        assert candidates[SNIFFER]["label"] == "Packet sniffers"  # no Finnish label: the project's
        english = client.post("/v1/tag", json={"text": SNIFFING}).json()
        assert next(t for t in english["tags"] if t["tag_id"] == SNIFFER)["path"] == [
            {"id": NET, "label": "Networking"}
        ]
        assert client.post("/v1/tag", json={"text": SNIFFING, "language": "<fi>"}).status_code == 422

        annif = client.post("/v1/projects/vocab/suggest", data={"text": SNIFFING, "language": "fi"})
        assert annif.status_code == 200
        suggestion = next(s for s in annif.json()["results"] if s["uri"] == SNIFFER)
        assert suggestion["path"] == [{"uri": NET, "label": "Tietoverkot"}]
        assert client.post("/v1/projects/vocab/suggest", data={"text": SNIFFING, "language": "de"}).status_code == 400
        vocab = client.get("/v1/vocabs").json()["vocabs"][0]
        assert vocab["languages"] == ["en", "fi"]

        # a Finnish alias takes part in text matching: the lexical path reaches the tag by it
        [finnish] = project.recall(["Verkkotyökalut"])
        assert NET in {c.tag_id for c in finnish.candidates if c.paths.get("lexical", 0) > 0}


# -- the evidence ----------------------------------------------------------------------------------------
TEXT = "A small daemon that monitors network interfaces and logs traffic statistics to syslog."


@pytest.fixture(scope="module")
def debtags_dir(tmp_path_factory):
    return debtags_project(tmp_path_factory.mktemp("evidence") / "p")


def test_explain_gives_the_words_the_neighbours_and_the_llms_part(debtags_dir):
    with Project.open(debtags_dir) as project, TestClient(create_app(project), base_url=LOOPBACK) as client:
        body = client.post("/v1/tag", json={"text": TEXT, "explain": True}).json()
        assert body["tags"]
        words_of_text = set(TEXT.lower().replace(".", "").split())
        for tag in body["tags"]:
            evidence = tag["evidence"]
            assert evidence["llm"] == {"judged": False}
            for path, found in evidence["words"].items():
                assert path in ("supervised", "tree") and found
                for term, contribution in found:
                    assert set(term.split()) <= words_of_text and contribution > 0
                assert [c for _, c in found] == sorted((c for _, c in found), reverse=True)
            ids = [n["id"] for n in evidence["neighbours"]]
            texts = {d.id: d.text for d in project.store.get_contents(ids)}
            for neighbour in evidence["neighbours"]:
                assert tag["tag_id"] in next(d for d in project.store.get_contents([neighbour["id"]])).tags
                assert " ".join(texts[neighbour["id"]].split()).startswith(neighbour["snippet"].rstrip("…"))
        assert any(tag["evidence"]["words"] for tag in body["tags"])
        assert "evidence" not in client.post("/v1/tag", json={"text": TEXT}).json()["tags"][0]


def test_a_learned_paths_words_are_the_ones_that_raise_its_score(debtags_dir):
    """Explanations that are faithful: leaving out the word a path names first lowers that path's score of the
    tag (exactly so for the linear path; by construction for the trees)."""
    with Project.open(debtags_dir) as project:
        learned = project.recall_index.recaller.learned
        [result] = project.tag([TEXT])
        tag = result.tags[0].tag_id
        for name in ("supervised", "tree"):
            path = learned[name]
            found = path.explain(TEXT, tag)
            assert found, name
            word = found[0][0].split()[0]
            without = " ".join(w for w in TEXT.split() if w.lower().strip(".") != word)
            column = path.classes_.index(tag)

            def score(text, path=path, column=column):
                matrix = path.predict([text])
                return float(matrix[0, column])

            assert score(without) < score(TEXT), name
        unfitted = new_path("supervised")
        with pytest.raises(Exception, match="not fitted"):
            unfitted.explain(TEXT, tag)
