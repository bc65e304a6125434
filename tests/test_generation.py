"""Tag generation: validation of model answers, prompts as data, short-term knowledge."""

import json

import pytest
from tests.fakes import FakeLLM

from llm4tag.corpus.knowledge import read_learn_file
from llm4tag.errors import ConfigError, InputError
from llm4tag.generation.generator import GenerationConfig, TagGenerator, map_names, parse_answer
from llm4tag.generation.judge import RecentJudgements
from llm4tag.generation.prompts import load_prompt
from llm4tag.library import Tag, TagLibrary
from llm4tag.store.sqlite import SQLiteStore

LIBRARY = TagLibrary(
    [
        Tag("net", "Networking", meta={"facet_label": "Purpose"}),
        Tag("client", "Client", meta={"facet_label": "Networking"}),
        Tag("ui:client", "Client", meta={"facet_label": "Networking"}),
        Tag("game", "Games"),
    ]
)


def test_answers_are_parsed_from_json_quotes_or_lines():
    assert parse_answer('{"tags": ["A", "B"]}') == ["A", "B"]
    assert parse_answer('Sure! {"tags": ["A"]} hope that helps') == ["A"]
    assert parse_answer('I pick "A" and "B".') == ["A", "B"]
    assert parse_answer("- A\n- B\n") == ["A", "B"]


def test_names_map_exactly_then_normalized_then_near_misses():
    names = {"Purpose: Networking": "net", "Games": "game"}
    chosen, invalid, mapped = map_names(["purpose:  networking", "Game", "Gamess", "Cooking", "Games"], names)
    assert chosen == ["net", "game"]
    assert invalid == 1  # "Cooking"
    assert mapped == 2  # "Game" and "Gamess" are close enough to "Games"


def test_display_names_are_unique_and_carry_context():
    names = LIBRARY.display_names()
    assert names["net"] == "Purpose: Networking"
    assert names["client"] != names["ui:client"]
    assert len(set(names.values())) == len(names)


def test_generator_never_returns_a_tag_outside_the_candidates():
    llm = FakeLLM(answers=['{"tags": ["Games", "Purpose: Networking", "Secret tag"]}'], name="scripted")
    generator = TagGenerator(llm, load_prompt("select"), LIBRARY.display_names(), GenerationConfig())
    [selection] = generator.select(["a game"], [["game", "client"]], [[]], [[]])
    assert selection.tag_ids == ["game"]
    assert selection.invalid == 2  # a real tag that was not a candidate, and an invented one
    schema = llm.requests[0].json_schema
    assert schema["properties"]["tags"]["items"]["enum"] == ["Games", "Networking: Client [client]"]


def test_prompt_shows_examples_notes_and_candidates_but_no_ids():
    llm = FakeLLM(answers=['{"tags": []}'], name="scripted")
    generator = TagGenerator(llm, load_prompt("select"), LIBRARY.display_names(), GenerationConfig())
    from llm4tag.generation.generator import Example

    generator.select(
        ["a multiplayer game"],
        [["game", "net"]],
        [[Example("chess online", ["game", "net"])]],
        [["Games: also covers puzzles"]],
    )
    prompt = llm.requests[0].messages[-1]["content"]
    assert "chess online" in prompt and "Games; Purpose: Networking" in prompt
    assert "also covers puzzles" in prompt
    assert "a multiplayer game" in prompt
    assert '"net"' not in prompt and "game]" not in prompt


def test_project_prompt_overrides_the_packaged_template(tmp_path):
    (tmp_path / "select.toml").write_text('user = "Only {{ content }}"\n', encoding="utf-8")
    assert load_prompt("select", tmp_path).messages(content="x")[-1]["content"] == "Only x"
    (tmp_path / "select.toml").write_text('user = "{{ missing_variable }}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="missing_variable"):
        load_prompt("select", tmp_path).messages(content="x")


def test_learn_file_is_validated_before_anything_is_stored(tmp_path):
    path = tmp_path / "learn.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(x)
            for x in [
                {"text": "a game", "tags": ["game"]},
                {"kind": "note", "tag": "net", "note": "also VPNs"},
                {"kind": "correction", "text": "a game", "rejected": ["net"]},
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    items = read_learn_file(path, LIBRARY)
    assert [i.kind for i in items] == ["example", "note", "correction"]
    path.write_text(json.dumps({"text": "x", "tags": ["nope"]}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 1.*field 'tags'.*nope"):
        read_learn_file(path, LIBRARY)
    path.write_text(json.dumps({"kind": "wish", "text": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="field 'kind'"):
        read_learn_file(path, LIBRARY)


def test_examples_are_dropped_to_fit_the_prompt_token_budget():
    from llm4tag.generation.generator import Example

    llm = FakeLLM(answers=['{"tags": []}', '{"tags": []}'], name="scripted")
    examples = [Example(f"example number {i} " + "word " * 40, ["game"]) for i in range(3)]
    roomy = TagGenerator(llm, load_prompt("select"), LIBRARY.display_names(), GenerationConfig())
    tight = TagGenerator(llm, load_prompt("select"), LIBRARY.display_names(), GenerationConfig(prompt_token_budget=200))
    roomy.select(["a game"], [["game"]], [examples], [[]])
    tight.select(["a game"], [["game"]], [examples], [[]])
    full, cut = (r.messages[-1]["content"] for r in llm.requests)
    assert all(f"example number {i}" in full for i in range(3))
    assert "example number 0" in cut and "example number 2" not in cut  # the least similar go first


def test_a_services_judgements_are_read_from_the_store_and_kept_in_bounded_memory(tmp_path):
    store = SQLiteStore(tmp_path / "s.sqlite")
    store.cache_judgements("judge-a", {("h1", "t1"): (0.9, False)})  # e.g. made by calibrate
    recent = RecentJudgements(store, limit=2)
    recent.cache_judgements("judge-a", {("h2", "t1"): (0.2, False), ("h3", "t1"): (0.7, True)})
    assert recent.cached_judgements("judge-a", [("h1", "t1"), ("h2", "t1"), ("h3", "t1")]) == {
        ("h1", "t1"): (0.9, False),
        ("h2", "t1"): (0.2, False),
        ("h3", "t1"): (0.7, True),
    }
    assert recent.cached_judgements("judge-b", [("h2", "t1")]) == {}  # another model or prompt: not reused
    recent.cache_judgements("judge-a", {("h4", "t1"): (0.5, False)})  # the least recently used leaves
    assert set(recent.cached_judgements("judge-a", [("h2", "t1"), ("h3", "t1"), ("h4", "t1")])) == {
        ("h3", "t1"),
        ("h4", "t1"),
    }
    assert store.cached_judgements("judge-a", [("h2", "t1"), ("h3", "t1"), ("h4", "t1")]) == {}
