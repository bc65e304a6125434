"""The pipeline of stages: built once from the configuration, other shapes through ``with_overrides``."""

import numpy as np
import pytest
from tests.conftest import debtags_project, debtags_slice

from llm4tag.calibration import RECALL_FEATURES, Calibrator, recall_features
from llm4tag.corpus import Document
from llm4tag.errors import ConfigError, ProjectError
from llm4tag.library import Tag
from llm4tag.project import Project
from llm4tag.store.sqlite import SQLiteStore


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory):
    return debtags_project(tmp_path_factory.mktemp("pipeline") / "p")


def names(pipeline) -> list[str]:
    return [stage.name for stage in pipeline.stages]


def test_stages_follow_the_configuration_and_overrides_build_other_shapes(project_dir):
    with Project.open(project_dir) as project:  # configured without generation and judge
        pipeline = project.pipeline()
        assert names(pipeline) == ["recall", "consider", "score", "prune"]
        assert project.pipeline() is pipeline  # built once, not per call or per batch
        full = pipeline.with_overrides(generation=True, judge="candidates")
        assert names(full) == ["recall", "select", "consider", "judge", "score", "prune"]
        assert names(full.with_overrides(llm=False)) == names(pipeline)
        assert names(pipeline.with_overrides(prune=False))[-1] == "score"
        assert not project.llm.started  # building LLM stages starts no model; running them would
        with pytest.raises(ConfigError, match="unknown pipeline option"):
            pipeline.with_overrides(jduge="none")
        with pytest.raises(ConfigError, match="judge must be one of"):
            pipeline.with_overrides(judge="sometimes")


def test_results_are_pruned_and_ranked_and_serialised_once(project_dir):
    docs = [Document(r["id"], r["text"]) for r in debtags_slice("test", 5)]
    with Project.open(project_dir) as project:
        results = project.pipeline().run(docs)
        pruning = project.pipeline().pruning
        for doc, result in zip(docs, results):
            assert result.id == doc.id and result.ranked
            scores = [t.score for t in result.ranked]
            assert scores == sorted(scores, reverse=True)
            kept = pruning.apply([t.tag_id for t in result.ranked], np.array(scores), result.scored.expected_gold)
            assert [t.tag_id for t in result.tags] == kept and len(kept) <= pruning.max_tags
            record = result.to_dict(with_candidates=True)
            assert [t["tag_id"] for t in record["tags"]] == [t.tag_id for t in result.tags]
            considered = {t.tag_id for t in result.ranked}
            for candidate in record["candidates"]:
                assert candidate["label"] == project.library[candidate["tag_id"]].label
                assert ("confidence" in candidate) == (candidate["tag_id"] in considered)
        unpruned = project.pipeline(prune=False).run(docs)
        assert all(u.tags == u.ranked for u in unpruned)


def test_a_calibrator_fitted_on_other_features_is_refused(project_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(project_dir, copy)
    with Project.open(copy) as project:
        rng = np.random.default_rng(0)
        X, y = rng.random((40, len(RECALL_FEATURES))), np.array([0, 1] * 20)
        reordered = tuple(reversed(RECALL_FEATURES))  # same count, other order: once silently reused
        project.artifacts.save_recall_calibrator(Calibrator(per_tag=False).fit(X, y, feature_names=reordered))
        pipeline = project.pipeline()  # built (calibrate builds it to read its shape), refused when it tags
        with pytest.raises(ProjectError, match="run 'llm4tag calibrate'"):
            pipeline.run([Document("d", "a network daemon")])
        project.artifacts.save_recall_calibrator(Calibrator(per_tag=False).fit(X, y, feature_names=RECALL_FEATURES))
        assert project.pipeline().run([Document("d", "a network daemon")])[0].ranked
        # fitted before the perceptron path existed (its path off in that project): it reads its own columns
        older = tuple(name for name in RECALL_FEATURES if name != "mlp")
        assert len(older) == len(RECALL_FEATURES) - 1
        calibrator = Calibrator(per_tag=False).fit(X[:, : len(older)], y, feature_names=older)
        project.artifacts.save_recall_calibrator(calibrator)
        [result] = project.pipeline().run([Document("d", "a network daemon")])
        X_now, tags = recall_features(result.recall)
        keep = [RECALL_FEATURES.index(name) for name in older]
        assert np.allclose(result.scored.candidate_conf, calibrator.predict_proba(X_now[:, keep], tags))
        unknown = (*older[:-1], "something_new")  # a column this recall stage does not give: refused
        project.artifacts.save_recall_calibrator(
            Calibrator(per_tag=False).fit(X[:, : len(older)], y, feature_names=unknown)
        )
        with pytest.raises(ProjectError, match="run 'llm4tag calibrate'"):
            project.pipeline().run([Document("d", "a network daemon")])


def test_the_tag_library_is_cached_until_tags_change_in_any_process(project_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(project_dir, copy)
    with Project.open(copy) as project:
        first = project.library
        assert project.library is first
        project.add_tags(list(first)[:3])  # nothing changes: the cache stays
        assert project.library is first
        other = SQLiteStore(copy / "store.sqlite", create=False)  # another process writing to the same store
        other.upsert_tags([Tag("team::zephyr", "Zephyr team")])
        other.close()
        assert "team::zephyr" in project.library and project.library is not first
