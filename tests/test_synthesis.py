"""The LLM once per tag (``llm4tag synthesize``, ``describe``, ``forget --synthetic``, ``synthesize --check``).

The LLM is the tests' fake where the test is about the workflow (resuming, marking, removing, keeping synthetic
contents out of gold); the store, the recall graph, the learned paths and the checks are real. The last test runs
the real embedded 0.5B model and MiniLM: what it writes for a tag must be nearer that tag than a random one."""

import json
import random

import numpy as np
import pytest
from tests.conftest import TINY_CONTENTS, TINY_TAGS, run_cli, write_jsonl
from tests.fakes import FakeLLM

from llm4tag.corpus import Document
from llm4tag.corpus.documents import is_synthetic
from llm4tag.corpus.knowledge import read_learn_file
from llm4tag.errors import BackendError, InputError
from llm4tag.generation.prompts import load_prompt
from llm4tag.project import Project
from llm4tag.synthesis import (
    Describer,
    DescribeSettings,
    SynthesisSettings,
    Synthesizer,
    check_synthetic,
    last_decision,
    read_status,
)

WRITTEN = {  # what the fake LLM writes for each tag: words of the tag's own description, so the embedder agrees
    "Networking": [
        "network tools for packets",
        "protocols and packets network analyser",
        "Networking: tools and packets",
    ],
    "Daemon": ["a background service that runs jobs", "background service for logs", "a background service daemon"],
    "Audio": ["sound and music mixer", "music and sound recorder", "sound effects and music library"],
    "Chess": ["the board game of chess trainer", "chess board game openings", "board game of chess engine"],
}


def answer(request) -> str:
    """Contents for the tag the prompt names; a refusal for Games; another tag's words for nothing."""
    prompt = request.messages[-1]["content"]
    tag = prompt.split("The tag: ", 1)[1].split("\n", 1)[0].split(" (under")[0]
    if tag == "Games":
        return "I'm sorry, I cannot write that."
    offered = prompt.split("only from: ", 1)[1].rstrip(".").split("; ") if "only from: " in prompt else []
    return json.dumps(
        {"contents": [{"text": t, "tags": offered[:1] + ["Astronomy"]} for t in WRITTEN.get(tag, ["unrelated words"])]}
    )


def synthesizer(project, llm, **settings) -> Synthesizer:
    return Synthesizer(project, llm, load_prompt("synthesize"), SynthesisSettings(**settings))


def test_synthesize_writes_a_reviewable_learn_file_and_reports_what_it_dropped(tiny_project, tmp_path):
    out = tmp_path / "synthetic.jsonl"
    summary = synthesizer(tiny_project, FakeLLM(answers=answer), per_tag=3, max_rank=1).run(out)
    # every tiny tag has fewer than 5 examples: each is written for once
    assert summary["tags"] == len(TINY_TAGS)
    assert summary["refused"] == ["game"]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and all(line["synthetic"] is True and line["id"].startswith("synthetic:") for line in lines)
    assert {line["for_tag"] for line in lines} <= {"net", "daemon", "audio", "chess"}
    assert all(line["model"] == "fake" and line["prompt"].startswith("sha256:") for line in lines)
    assert "tools and packets" in {line["text"] for line in lines}  # a leading "<tag name>:" is taken off
    for line in lines:  # its own tag first; others only from the library (a name that is no tag is dropped)
        assert line["tags"][0] == line["for_tag"] and all(t in {t["id"] for t in TINY_TAGS} for t in line["tags"])
    status = {r["tag"]: r for r in read_status(out)}
    assert status["game"]["status"] == "refused" and status["game"]["written"] == 0
    assert any("Astronomy" in r["unknown_tags"] for r in status.values())
    # a written content the embedder does not place nearest its tag (max_rank 1) is dropped with the reason
    kept = {line["text"] for line in lines}
    for record in status.values():
        for dropped in record["dropped"]:
            assert dropped["text"] not in kept and dropped["reason"]
    assert sum(r["written"] for r in status.values()) == len(lines)


def test_a_killed_run_resumes_and_writes_each_tag_once(tiny_project, tmp_path):
    out = tmp_path / "synthetic.jsonl"
    calls = {"n": 0}

    def dies_on_the_third(request):
        calls["n"] += 1
        if calls["n"] == 3:
            raise BackendError("the server went away")
        return answer(request)

    with pytest.raises(BackendError):
        synthesizer(tiny_project, FakeLLM(answers=dies_on_the_third)).run(out)
    first = read_status(out)
    assert len(first) == 2
    # a kill while a tag's lines were being written: a line of a tag with no status line yet, cut short
    pending = next(t["id"] for t in TINY_TAGS if t["id"] not in {r["tag"] for r in first})
    with out.open("a") as handle:
        handle.write(json.dumps({"kind": "example", "id": f"synthetic:{pending}:1", "text": "x", "tags": [pending],
                                 "synthetic": True, "for_tag": pending}) + "\n" + '{"kind": "exa')  # fmt: skip
    llm = FakeLLM(answers=answer)
    summary = synthesizer(tiny_project, llm).run(out)
    assert llm.calls == len(TINY_TAGS) - 2 == summary["written_now"]
    status = read_status(out)
    assert sorted(r["tag"] for r in status) == sorted(t["id"] for t in TINY_TAGS)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert "x" not in {line["text"] for line in lines}
    ids = [line["id"] for line in lines]
    assert len(ids) == len(set(ids))
    read_learn_file(out, tiny_project.library)  # the whole file is a valid learn file


def test_a_tag_outside_the_library_is_refused(tiny_project, tmp_path):
    with pytest.raises(InputError, match="not in the tag library"):
        synthesizer(tiny_project, FakeLLM(fail="never asked"), tags=["net", "astronomy"]).run(tmp_path / "s.jsonl")
    with pytest.raises(InputError, match="not in the tag library"):
        Describer(tiny_project, FakeLLM(fail="never asked"), load_prompt("describe"),
                  DescribeSettings(tags=["astronomy"])).run(tmp_path / "d.jsonl")  # fmt: skip


def learned_project(tiny_project, tmp_path) -> Project:
    out = tmp_path / "synthetic.jsonl"
    synthesizer(tiny_project, FakeLLM(answers=answer), per_tag=3).run(out)
    tiny_project.learn(out)
    return tiny_project


def test_learned_synthetic_contents_are_marked_train_recall_and_are_never_gold(tiny_project, tmp_path):
    project = learned_project(tiny_project, tmp_path)
    stored = project.store.synthetic_contents()
    assert stored and all(meta["synthetic"] is True and meta["for_tag"] and meta["model"] == "fake"
                          for _, meta in stored)  # fmt: skip
    ids = {content_id for content_id, _ in stored}
    sources = {tag_id: source for tag_id, source in project.store._query(
        "SELECT c.id, a.source FROM annotations a JOIN contents c ON c.seq = a.content_seq")}  # fmt: skip
    assert {sources[i] for i in ids} == {"synthetic"}
    # they are in the graph, and a new content near one of them is recalled through it, marked as synthetic
    assert ids <= set(project.recall_index.graph.content_ids)
    result = project.tag(["a background service that runs jobs and logs"])[0]
    daemon = next(c for c in result.recall.candidates if c.tag_id == "daemon")
    assert any(is_synthetic(cid) for cid, _ in daemon.neighbours)
    assert daemon.to_dict()["synthetic_neighbours"]
    evidence = project.explain("a background service that runs jobs and logs", result, ["daemon"])
    assert any(n["synthetic"] for n in evidence["daemon"]["neighbours"])
    # gold and the held-out split calibrate and optimize tune on: written contents only, all of them
    split = project.recall_index.held_out_contents(share=1.0)
    assert split and not any(is_synthetic(d.id) for d in split)
    assert {d.id for d in split} == {c["id"] for c in TINY_CONTENTS}
    for seed in range(5):  # the default split, as calibrate takes it: more synthetic contents than written ones
        assert not any(is_synthetic(d.id) for d in project.recall_index.held_out_contents(seed=seed, share=0.5))


def test_ids_of_synthetic_contents_cannot_be_imported_as_written(tiny_project, tmp_path):
    with pytest.raises(InputError, match="synthetic"):
        tiny_project.add_contents([Document("synthetic:net:1", "a text", ["net"])])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "synthetic:net:1", "text": "a text", "tags": ["net"]}])
    with pytest.raises(InputError) as raised:
        tiny_project.add_contents(bad)
    assert raised.value.line == 1 and raised.value.field == "id"
    learn = write_jsonl(tmp_path / "learn.jsonl", [{"id": "synthetic:net:1", "text": "a text", "tags": ["net"]}])
    with pytest.raises(InputError) as raised:
        tiny_project.learn(learn)
    assert raised.value.field == "id" and "synthetic" in str(raised.value)
    marked = write_jsonl(tmp_path / "marked.jsonl", [{"kind": "note", "tag": "net", "note": "n", "synthetic": True}])
    with pytest.raises(InputError, match="only an example"):
        tiny_project.learn(marked)
    assert tiny_project.store.synthetic_contents() == []


def test_forget_removes_the_synthetic_contents_per_tag_and_all(tiny_project, tmp_path, capsys):
    project = learned_project(tiny_project, tmp_path)
    directory = str(project.directory)
    before = project.store.synthetic_contents()
    for_net = [c for c, meta in before if meta["for_tag"] == "net"]
    assert for_net
    project.close()
    code, out, _ = run_cli(["forget", "-p", directory, "--synthetic", "--tag", "net"], capsys)
    assert code == 0 and json.loads(out.splitlines()[0]) == {"removed": len(for_net)}
    code, _, err = run_cli(["forget", "-p", directory, "--synthetic", "--tag", "astronomy"], capsys)
    assert code != 0 and "astronomy" in err
    with Project.open(directory, embedder=tiny_project._embedder.embedder, llm=FakeLLM(fail="never asked")) as p:
        left = p.store.synthetic_contents()
        assert {meta["for_tag"] for _, meta in left} == {meta["for_tag"] for _, meta in before} - {"net"}
        assert p.store.count_contents() == len(TINY_CONTENTS) + len(left)
        assert not set(for_net) & set(p.recall_index.graph.content_ids)  # the graph follows
        assert p.store.knowledge(("example",)) and not any(k.content_id in for_net for k in p.store.knowledge())
    code, out, _ = run_cli(["forget", "-p", directory, "--synthetic"], capsys)
    assert code == 0 and json.loads(out.splitlines()[0]) == {"removed": len(left)}
    with Project.open(directory, embedder=tiny_project._embedder.embedder, llm=FakeLLM(fail="never asked")) as p:
        assert p.store.synthetic_contents() == [] and p.store.count_contents() == len(TINY_CONTENTS)
        assert not any(is_synthetic(c) for c in p.recall_index.graph.content_ids)


def test_the_check_compares_with_and_without_and_keeps_only_what_pays(tiny_project, tmp_path):
    project = learned_project(tiny_project, tmp_path)
    synthetic = {c for c, _ in project.store.synthetic_contents()}
    without = project.recall_index.held_out_recaller({"c1"}, without=synthetic)
    assert not synthetic & set(without.graph.content_ids)  # the "without" arm never sees them
    assert synthetic <= set(project.recall_index.graph.content_ids)
    decision = check_synthetic(project, apply=False)
    assert decision == last_decision(project.store)  # saved
    assert set(decision["groups"]) == {"0", "1-4", "5+"}
    assert decision["held_out_contents"] >= 1 and decision["synthetic_contents"] == len(synthetic)
    # six contents cannot show a significant gain: nothing is kept, and with apply the contents are removed
    assert decision["kept"] == [] and decision["removed"] == 0
    assert {c for c, _ in project.store.synthetic_contents()} == synthetic
    decision = check_synthetic(project)
    assert decision["removed"] == len(synthetic) and project.store.synthetic_contents() == []


def test_describe_writes_a_reviewable_file_and_changes_nothing_until_applied(tiny_project, tmp_path, capsys):
    def describes(request):
        name = request.messages[-1]["content"].split("The tag: ", 1)[1].split("\n", 1)[0]
        return json.dumps({"description": f"Contents about {name.lower()} and related tools.",
                           "aliases": [name, f"{name} stuff"]})  # fmt: skip

    tags = [t.id for t in tiny_project.library]
    before = {t.id: (t.description, t.aliases) for t in tiny_project.library}
    out = tmp_path / "descriptions.jsonl"
    settings = DescribeSettings(min_chars=20)  # "games to play" and "sound and music" are shorter
    summary = Describer(tiny_project, FakeLLM(answers=describes), load_prompt("describe"), settings).run(out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["id"] for line in lines} == {"game", "audio"} and summary["described_now"] == 2
    for line in lines:
        assert line["description"].startswith("Contents about") and line["described_by"]["model"] == "fake"
        assert line["label"] not in line["aliases"]  # the label is not repeated as an alias
    assert {t.id: (t.description, t.aliases) for t in tiny_project.library} == before  # nothing applied
    llm = FakeLLM(fail="never asked")  # a rerun finds every tag described: no call
    Describer(tiny_project, llm, load_prompt("describe"), settings).run(out)
    with out.open("a") as handle:  # a kill in the middle of a line: that tag is described again, the line replaced
        handle.write('{"id": "net", "label": "Netw')
    llm = FakeLLM(answers=describes)
    Describer(tiny_project, llm, load_prompt("describe"), DescribeSettings(tags=["game", "net"])).run(out)
    assert llm.calls == 1 and [json.loads(line)["id"] for line in out.read_text().splitlines()][-1] == "net"
    tiny_project.add_tags(out)
    assert tiny_project.library["game"].description.startswith("Contents about")
    assert "Games stuff" in tiny_project.library["game"].aliases
    assert tiny_project.library["net"].description.startswith("Contents about")  # asked for by name above
    assert tiny_project.library["chess"].description == before["chess"][0]
    assert sorted(t.id for t in tiny_project.library) == sorted(tags)


@pytest.mark.slow
def test_the_embedded_model_writes_contents_nearer_their_tag_than_a_random_one(tmp_path, small_llm):
    from llm4tag.embedding import create_embedder

    embedder = create_embedder("sentence-transformers", model="default")
    project = Project.init(tmp_path / "proj", embedder=embedder, llm=small_llm)
    project.add_tags(write_jsonl(tmp_path / "tags.jsonl", TINY_TAGS))
    project.add_contents(write_jsonl(tmp_path / "contents.jsonl", TINY_CONTENTS))
    out = tmp_path / "synthetic.jsonl"
    summary = synthesizer(project, small_llm, per_tag=2, tags=["chess", "audio"], max_rank=len(TINY_TAGS)).run(out)
    assert summary["contents"] >= 1, read_status(out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    texts = [line["text"] for line in lines]
    vectors = embedder.encode(texts)
    tag_vectors = {t.id: embedder.encode([t.text()])[0] for t in project.library}
    rng = random.Random(0)
    for line, vector in zip(lines, vectors):
        own = float(vector @ tag_vectors[line["for_tag"]])
        other = rng.choice([t for t in tag_vectors if t != line["for_tag"]])
        assert own > float(vector @ tag_vectors[other]), (line["text"], line["for_tag"], other)
    assert np.isfinite(summary["llm_seconds"]) and summary["llm_seconds"] > 0
    project.close()


def test_the_check_calls_a_gain_significant_only_when_the_interval_clears_zero():
    from llm4tag.synthesis.check import compare

    rng = random.Random(0)
    golds = [{"rare"} if i % 4 == 0 else {"common"} for i in range(200)]
    without = [["common"] for _ in golds]
    better = [["rare"] if "rare" in g else ["common"] for g in golds]  # finds every rare occurrence
    noisy = [[rng.choice(["rare", "common"])] for _ in golds]  # guesses
    found = compare(better, without, golds, {"rare"})
    assert found["f1_with"] == 1.0 and found["f1_without"] == 0.0 and found["gain_ci95"][0] > 0.5
    same = compare(without, without, golds, {"rare"})
    assert same["gain"] == 0.0 and same["gain_ci95"] == [0.0, 0.0]
    guessed = compare(noisy, better, golds, {"rare"})
    assert guessed["gain"] < 0 and guessed["gain_ci95"][1] < 0  # worse than finding them: never kept


def test_a_tag_with_only_synthetic_examples_keeps_its_turn_among_the_new_tags(tiny_project):
    from llm4tag.corpus.knowledge import KnowledgeItem
    from llm4tag.library.tags import Tag

    tiny_project.add_tags([Tag("astro", "Astronomy", description="stars, planets and telescopes")])
    written = [
        KnowledgeItem("example", f"synthetic:astro:{n}", text, ["astro"], synthetic={"for_tag": "astro"})
        for n, text in enumerate(["telescope for stars", "planets and stars viewer"], 1)
    ]
    tiny_project.learn(written)
    recaller = tiny_project.recall_index.recaller
    position = recaller.graph.tag_position["astro"]
    assert recaller.graph.tag_frequency[position] == 2 and recaller.graph.written_tag_frequency[position] == 0
    assert recaller.new_tags().mask[position]  # a person wrote no example of it: still new to the reserved slots
    [result] = tiny_project.recall(["a telescope to watch the planets"])
    assert "astro" in {c.tag_id for c in result.candidates}
    tiny_project.learn([KnowledgeItem("example", "real-1", "stars seen through a telescope", ["astro"])])
    assert not tiny_project.recall_index.recaller.new_tags().mask[position]  # one written example: known
