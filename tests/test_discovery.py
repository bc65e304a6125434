"""Tag discovery (``llm4tag discover``): a planted corpus whose subject the tiny library lacks (astronomy) is
found as a group and named; a proposal that names an existing tag is dropped as its duplicate; accepting adds
the tag, which is recalled for a new content at once; a rejected proposal is not proposed again; a run cut
short resumes. The LLM is the tests' fake (these tests are about discovery, not the model); the recall stage,
the store, the clustering and the embedder's vectors are real."""

import json

import pytest
from tests.conftest import TINY_CONTENTS
from tests.fakes import FakeLLM

from llm4tag.cli import main as cli_main
from llm4tag.corpus import Document
from llm4tag.discovery import Discovery, DiscoverySettings
from llm4tag.discovery.naming import LLMProposer, WordsProposer
from llm4tag.discovery.run import read_records
from llm4tag.generation.prompts import load_prompt

ASTRONOMY = [
    "telescope control for observing stars planets and the night sky",
    "planetarium showing stars planets and constellations in the night sky",
    "star charts of the night sky with planets and telescope views",
    "track planets and stars across the night sky with a telescope",
    "night sky observing log for stars planets and galaxies",
    "astronomical ephemeris of planets and stars for telescope users",
    "sky atlas of stars constellations and planets",
]
CHESS = [
    "chess engine that plays chess openings",
    "chess puzzles and chess endgames trainer",
    "play chess online against chess players",
    "chess board viewer for chess games",
    "chess clock and chess tournament pairing",
]


def answer(request) -> str:
    prompt = request.messages[-1]["content"]
    if "telescope" in prompt:
        return json.dumps({"new_tag": True, "label": "Astronomy", "description": "Stars, planets and the night sky.",
                           "aliases": ["Stargazing"], "parent": None})  # fmt: skip
    if "chess" in prompt:
        return json.dumps({"new_tag": True, "label": "Chess", "description": "The board game.", "parent": None})
    return json.dumps({"new_tag": False})


def new_contents() -> list[Document]:
    docs = [Document(f"astro-{i}", t) for i, t in enumerate(ASTRONOMY)]
    docs += [Document(f"chess-{i}", t) for i, t in enumerate(CHESS)]
    return docs


SETTINGS = DiscoverySettings(min_confidence=1.01, min_group=4)  # every content flagged: the groups decide


def proposer(llm: FakeLLM) -> LLMProposer:
    return LLMProposer(llm, load_prompt("discover"))


def test_the_planted_group_is_named_and_a_duplicate_is_dropped(tiny_project, tmp_path):
    llm = FakeLLM(answers=answer)
    out = tmp_path / "proposals.jsonl"
    summary = Discovery(tiny_project, proposer(llm), SETTINGS).run(out, new_contents())
    records = read_records(out)
    assert summary["groups"] == len(records) >= 2 and llm.calls == len(records)
    astronomy = next(r for r in records if r["proposal"] and r["proposal"]["label"] == "Astronomy")
    members = set(astronomy["members"])
    assert len(members & {f"astro-{i}" for i in range(len(ASTRONOMY))}) >= 5
    assert len(members - {f"astro-{i}" for i in range(len(ASTRONOMY))}) <= 1  # the group is the planted one
    assert astronomy["status"] == "proposed" and astronomy["size"] == len(members)
    assert astronomy["evidence"] and all(e["id"] in members for e in astronomy["evidence"])
    chess = next(r for r in records if r["proposal"] and r["proposal"]["label"] == "Chess")
    assert chess["status"] == "duplicate" and chess["duplicate_of"] == "chess" and chess["duplicate_by"] == "name"
    report = out.with_suffix(".md").read_text()
    assert "## Astronomy (proposed" in report and "Duplicates `chess`" in report
    # the prompt shows the group's contents and the nearest existing tags, and offers parents from the library
    prompt = next(r for r in llm.requests if "telescope" in r.messages[-1]["content"]).messages[-1]["content"]
    assert "Existing tags nearest to them" in prompt
    # the words baseline names the same groups without an LLM
    words = Discovery(tiny_project, WordsProposer(), SETTINGS).run(tmp_path / "words.jsonl", new_contents())
    named = [r["proposal"]["label"] for r in read_records(tmp_path / "words.jsonl") if r["proposal"]]
    assert words["groups"] == summary["groups"] and any("sky" in n or "planets" in n or "stars" in n for n in named)


def test_accepting_adds_the_tag_and_it_is_recalled_at_once(tiny_project, tmp_path):
    discovery = Discovery(tiny_project, proposer(FakeLLM(answers=answer)), SETTINGS)
    discovery.run(tmp_path / "p.jsonl", new_contents())
    astronomy = next(r for r in discovery.proposals() if r["status"] == "proposed")
    done = discovery.decide(astronomy["key"], "accept", {"description": "Stars and planets: astronomy software."})
    tag = tiny_project.library[done["tag"]["id"]]
    assert tag.label == "Astronomy" and tag.aliases == ("Stargazing",)
    assert tag.description == "Stars and planets: astronomy software."
    assert tag.meta["discovered"]["evidence"] == [e["id"] for e in astronomy["evidence"]]
    evidence_ids = [e["id"] for e in astronomy["evidence"]]
    stored = {d.id: d for d in tiny_project.store.get_contents(evidence_ids)}
    assert set(stored) == set(evidence_ids) and all(tag.id in d.tags for d in stored.values())
    [result] = tiny_project.recall(["a telescope for the stars and planets of the night sky"])
    assert result.candidates[0].tag_id == tag.id
    assert next(r for r in discovery.proposals() if r["key"] == astronomy["key"])["status"] == "accepted"
    with pytest.raises(Exception, match="exists already"):
        discovery.decide(astronomy["key"], "accept", {"id": tag.id})


def test_a_rejected_proposal_is_not_proposed_again(tiny_project, tmp_path):
    discovery = Discovery(tiny_project, proposer(FakeLLM(answers=answer)), SETTINGS)
    discovery.run(tmp_path / "first.jsonl", new_contents())
    astronomy = next(r for r in discovery.proposals() if r["status"] == "proposed")
    discovery.decide(astronomy["key"], "reject")
    llm = FakeLLM(answers=answer)
    Discovery(tiny_project, proposer(llm), SETTINGS).run(tmp_path / "second.jsonl", new_contents())
    again = [r for r in read_records(tmp_path / "second.jsonl") if r["key"] == astronomy["key"]]
    assert again and again[0]["status"] == "rejected-before" and again[0]["rejected_label"] == "Astronomy"
    assert not any("telescope" in r.messages[-1]["content"] for r in llm.requests)  # not even asked
    # the same label from another group is not proposed either
    moved = [Document(f"x-{d.id}", d.text + " and comets") for d in new_contents()]
    Discovery(tiny_project, proposer(FakeLLM(answers=answer)), SETTINGS).run(tmp_path / "third.jsonl", moved)
    assert not any(r["status"] == "proposed" and r["proposal"]["label"] == "Astronomy"
                   for r in read_records(tmp_path / "third.jsonl"))  # fmt: skip


def test_a_run_cut_short_resumes_without_naming_a_group_twice(tiny_project, tmp_path):
    calls = []

    def dying(request):
        calls.append(request)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed while the second group is named
        return answer(request)

    out = tmp_path / "p.jsonl"
    with pytest.raises(KeyboardInterrupt):
        Discovery(tiny_project, proposer(FakeLLM(answers=dying)), SETTINGS).run(out, new_contents())
    first = read_records(out)
    assert len(first) == 1
    with out.open("a") as handle:
        handle.write('{"key": "g-cut')  # a line a kill cut short
    llm = FakeLLM(answers=answer)
    summary = Discovery(tiny_project, proposer(llm), SETTINGS).run(out, new_contents())
    records = read_records(out)
    assert summary["named_now"] == llm.calls == summary["groups"] - 1
    assert len({r["key"] for r in records}) == len(records) == summary["groups"]


def test_the_cli_proposes_and_applies_decisions(tiny_project, tmp_path, capsys):
    contents = tmp_path / "new.jsonl"
    contents.write_text("".join(json.dumps({"id": d.id, "text": d.text}) + "\n" for d in new_contents()))
    directory = str(tiny_project.directory)
    tiny_project.close()
    out = tmp_path / "proposals.jsonl"
    code = cli_main(["discover", "-p", directory, "--input", str(contents), "--namer", "words", "-o", str(out),
                     "--min-group", "4", "--min-confidence", "1.01", "-q"])  # fmt: skip
    assert code == 0 and out.exists()
    records = read_records(out)
    records[0]["decision"], records[0]["proposal"]["label"] = "accept", "Night sky"
    decided = tmp_path / "decided.jsonl"
    decided.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert cli_main(["discover", "-p", directory, "--decide", str(decided)]) == 0
    assert '"accepted"' in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**records[1], "decision": "maybe"}) + "\n")
    assert cli_main(["discover", "-p", directory, "--decide", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and "line 1" in err and "decision" in err


def test_the_own_contents_are_read_when_no_input_is_given(tiny_project, tmp_path):
    summary = Discovery(tiny_project, WordsProposer(), DiscoverySettings(min_confidence=1.01, min_group=2)).run(
        tmp_path / "own.jsonl"
    )
    assert summary["contents"] == len(TINY_CONTENTS) and summary["poorly_covered"] == len(TINY_CONTENTS)


def test_the_proposals_api_needs_a_key_and_applies_decisions(tiny_project, tmp_path):
    from fastapi.testclient import TestClient
    from tests.conftest import LOOPBACK

    from llm4tag.service import create_app

    Discovery(tiny_project, proposer(FakeLLM(answers=answer)), SETTINGS).run(tmp_path / "p.jsonl", new_contents())
    config = tiny_project.config.service
    config.api_keys = ["secret"]
    with TestClient(create_app(tiny_project, config), base_url=LOOPBACK) as client:
        assert client.get("/v1/proposals").status_code == 401
        key = {"X-API-Key": "secret"}
        listed = client.get("/v1/proposals", headers=key).json()["proposals"]
        astronomy = next(p for p in listed if p["status"] == "proposed")
        assert "text" not in astronomy["evidence"][0] and "members" not in astronomy
        assert astronomy["tagged_today"] == [] or all(
            {"id", "label", "count"} <= set(t) for t in astronomy["tagged_today"]
        )
        assert client.post("/v1/proposals/g-nope/accept", json={}, headers=key).status_code == 404
        bad = client.post(f"/v1/proposals/{astronomy['key']}/accept", json={"parent": "nope"}, headers=key)
        assert bad.status_code == 422 and "parent" in bad.json()["detail"]
        done = client.post(
            f"/v1/proposals/{astronomy['key']}/accept", json={"parent": "game", "id": "astro"}, headers=key
        )
        assert done.status_code == 200 and done.json()["tag"]["parent"] == "game"
        assert client.get("/v1/tags/astro").json()["label"] == "Astronomy"
        tagged = client.post("/v1/tag", json={"text": "a telescope for stars and planets", "candidates": True}).json()
        assert "astro" in [c["tag_id"] for c in tagged["candidates"]][:3]
        listed = client.get("/v1/proposals", headers=key).json()["proposals"]
        assert next(p for p in listed if p["key"] == astronomy["key"])["status"] == "accepted"


def test_a_group_sharing_a_specific_tag_is_covered_and_one_sharing_only_broad_tags_is_not():
    from llm4tag.discovery.groups import uncovered

    prevalence = {"broad": 0.4, "chess": 0.01, "go": 0.01}
    assert uncovered([["broad", "chess"]] * 3 + [["broad"]], prevalence, broad_share=0.05, shared_share=0.5) == (
        False,
        "chess",
        0.75,
    )
    assert uncovered([["broad"]] * 4, prevalence, broad_share=0.05, shared_share=0.5) == (True, None, 0.0)
    badly, tag, share = uncovered([["chess"], ["go"], ["broad"], []], prevalence, broad_share=0.05, shared_share=0.5)
    assert badly and share == 0.25
