"""Reading and writing ``llm4tag.toml``: every section from one table, strict about names and types, and
settings renamed since a project was written read under their new names with one warning."""

from __future__ import annotations

import logging

import pytest

from llm4tag.config import SECTIONS, ProjectConfig
from llm4tag.errors import ConfigError


def test_every_section_survives_a_round_trip_through_toml(tmp_path):
    config = ProjectConfig(name="round-trip")
    config.recall.paths = {"tree": {"cluster_k": 50}}
    config.pipeline.judge, config.confidence.few_examples_min_confidence = "few-examples", 0.4
    config.llm.options["base_url"] = "http://127.0.0.1:8000/v1"
    config.save(tmp_path)
    again = ProjectConfig.load(tmp_path)
    assert again == config
    assert set(config.to_dict()) == {"project", *SECTIONS}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"confidnce": {}}, r"unknown section\(s\) \[confidnce\]; expected project, store, embedding"),
        ({"recall": {"top_m": 3}}, r"unknown key\(s\) in \[recall\]: top_m"),
        ({"recall": {"top_n": "30"}}, r"\[recall\] top_n: expected an integer, got '30'"),
        ({"service": {"port": -1}}, r"\[service\] port: must be a finite number of at least 0"),
        ({"pipeline": {"judge": "always"}}, r"\[pipeline\] judge must be one of none, generated, candidates"),
        ({"recall": {"paths": {"forest": {}}}}, r"unknown learned paths in \[recall.paths\]: \['forest'\]"),
        ({"llm": {"backend": ""}}, r"\[llm\] backend: expected a backend name"),
        (
            {"store": {"url": "mysql://db/x"}},
            r"\[store\] url must be empty \(the embedded SQLite store\) or a postgresql",
        ),
    ],
)
def test_a_mistake_names_the_section_the_key_and_what_was_expected(data, message):
    with pytest.raises(ConfigError, match=message):
        ProjectConfig.from_dict(data, source="llm4tag.toml")


def test_renamed_settings_are_read_under_their_new_names_with_one_warning(caplog):
    old = {
        "confidence": {"judge": "thin", "use_llm": "never", "thin_min_confidence": 0.3},
        "recall": {"thin_slots": 1, "supervised_min_contents": 50},
    }
    with caplog.at_level(logging.WARNING, logger="llm4tag"):
        config = ProjectConfig.from_dict(old, source="p/llm4tag.toml")
    assert config.pipeline.judge == "few-examples" and config.pipeline.use_llm == "never"
    assert config.confidence.few_examples_min_confidence == 0.3
    assert config.recall.few_example_slots == 1 and config.recall.learned_min_contents == 50
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith("p/llm4tag.toml uses settings renamed")
    for said in (
        "[confidence] judge -> [pipeline] judge",
        '[pipeline] judge = "thin" -> "few-examples"',
        "[confidence] thin_min_confidence -> [confidence] few_examples_min_confidence",
        "[recall] thin_slots -> [recall] few_example_slots",
    ):
        assert said in warning
    saved = config.to_dict()  # what llm4tag writes: the new names only
    assert "judge" not in saved["confidence"] and saved["pipeline"]["judge"] == "few-examples"
    assert "thin_slots" not in saved["recall"] and saved["recall"]["few_example_slots"] == 1


def test_where_both_spellings_are_written_the_new_one_wins(caplog):
    both = {"confidence": {"judge": "none"}, "pipeline": {"judge": "candidates"}}
    with caplog.at_level(logging.WARNING, logger="llm4tag"):
        assert ProjectConfig.from_dict(both).pipeline.judge == "candidates"
    assert "[confidence] judge -> [pipeline] judge" in caplog.text


def test_a_current_file_reads_without_a_warning(tmp_path, caplog):
    ProjectConfig(name="quiet").save(tmp_path)
    with caplog.at_level(logging.WARNING, logger="llm4tag"):
        ProjectConfig.load(tmp_path)
    assert not caplog.records
