"""Evaluation: Annif-compatible ranking metrics on hand-made cases; the eval harness and its ablations."""

import pytest
from tests.conftest import debtags_project, debtags_slice

from llm4tag.corpus import Document
from llm4tag.errors import ConfigError
from llm4tag.evaluation.harness import evaluate, per_tag_scores
from llm4tag.metrics.ranking import ranking_scores
from llm4tag.project import Project


def test_ranking_metrics_follow_annifs_definitions():
    golds = [{"a", "b"}, {"c"}, {"x"}]
    rankings = [["a", "z", "b", "y"], ["c"], []]
    scores = ranking_scores(golds, rankings)
    # P@3 divides by the suggestions returned: doc 2 returned one tag, doc 3 none (0)
    assert scores["precision@1"] == pytest.approx((1 + 1 + 0) / 3)
    assert scores["precision@3"] == pytest.approx((2 / 3 + 1 / 1 + 0) / 3)
    assert scores["recall@1"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert scores["f1@3"] == pytest.approx((2 * 2 / (3 + 2) + 1 + 0) / 3)
    ndcg_doc1 = (1 + 1 / 2) / (1 + 1 / 1.5849625007211563)  # hits at ranks 1 and 3, ideal at ranks 1 and 2
    assert scores["ndcg@10"] == pytest.approx((ndcg_doc1 + 1 + 0) / 3)
    assert scores["avg_recall@5..50"] == pytest.approx((1 + 1 + 0) / 3)
    assert ranking_scores([set()], [["a"]]) == {}  # documents without gold tags are not scored


def test_per_tag_breakdown_lists_worst_tags_first():
    rows = per_tag_scores([{"a", "b"}, {"a"}], [["a", "c"], ["b"]])
    by_tag = {r["tag_id"]: r for r in rows}
    assert by_tag["a"]["recall"] == 0.5 and by_tag["a"]["precision"] == 1.0
    assert by_tag["c"]["support"] == 0 and by_tag["c"]["f1"] == 0.0
    assert [r["f1"] for r in rows] == sorted(r["f1"] for r in rows)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    directory = debtags_project(tmp_path_factory.mktemp("eval") / "p", train=400)
    with Project.open(directory) as project:
        project.calibrate([Document(r["id"], r["text"], r["tags"]) for r in debtags_slice("dev", 100)])
        yield project


def test_harness_reports_every_metric_and_restores_the_config(project):
    docs = [Document(r["id"], r["text"], r["tags"]) for r in debtags_slice("test", 60)]
    weights = dict(project.config.recall.weights)
    full = evaluate(project.pipeline(), docs, stage="recall")
    assert full.documents == 60 and full.pipeline["calibrated"]
    assert set(full.candidate_recall) == {"c2t", "c2c2t", "c2t2t", "lexical", "supervised", "tree", "mlp", "fused"}
    assert {"precision@1", "f1@5", "ndcg@10", "avg_recall@5..50"} <= set(full.ranking)
    assert 0 <= full.calibration["ece"] <= 1 and full.calibration["pairs"] > 0
    assert "| P@1 |" in full.to_markdown() and full.to_dict()["tag_sets"]["documents"] == 60

    no_graph = evaluate(project.pipeline(), docs, stage="full", without={"graph"})
    assert no_graph.without == ["graph"] and project.config.recall.weights == weights
    assert no_graph.candidate_recall["fused"]["30"] < full.candidate_recall["fused"]["30"]

    raw = evaluate(project.pipeline(), docs, stage="full", without={"calibration"})
    assert not raw.pipeline["calibrated"] and raw.pipeline["threshold"] == 0.0
    max_tags = project.config.generation.max_tags
    assert raw.tag_sets["micro_precision"] > 0 and all(r["predicted"] <= 60 for r in raw.per_tag)
    assert raw.pipeline["max_tags"] == max_tags

    with pytest.raises(ConfigError, match="unknown ablation"):
        evaluate(project.pipeline(), docs, without={"everything"})
    with pytest.raises(ConfigError, match="base_model"):
        evaluate(project.pipeline(), docs, without={"finetune"})
