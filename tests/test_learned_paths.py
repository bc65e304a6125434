"""The learned recall paths' one interface: fit, predict, top-k scores, save and load, refusing to score
unfitted, and the loader for paths saved before the format existed."""

from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest

from llm4tag.errors import ConfigError
from llm4tag.recall.learned import REGISTRY, legacy, new_path, path_class
from llm4tag.recall.learned.base import LearnedPath, NotFittedError
from llm4tag.recall.settings import LEARNED_PATHS, RecallConfig

rng = np.random.default_rng(0)
CENTRES = rng.normal(size=(2, 16)).astype(np.float32)
TEXTS = [f"{'kitten purrs softly' if i % 2 else 'puppy barks loudly'} note {i}" for i in range(60)]
TAGS = [["cats"] if i % 2 else ["dogs", "pets"] for i in range(60)]
VECTORS = np.vstack([CENTRES[i % 2] + 0.1 * rng.normal(size=16) for i in range(60)]).astype(np.float32)
SMALL = {
    "supervised": {"min_df": 1, "n_jobs": 1},
    "tree": {"min_df": 1, "threads": 1},
    "mlp": {"hidden": 16, "epochs": 80},
}


def test_the_registry_is_the_one_list_of_learned_paths_and_their_default_weights():
    assert tuple(REGISTRY) == LEARNED_PATHS
    weights = RecallConfig().weights
    for name, entry in REGISTRY.items():
        cls = path_class(name)
        assert issubclass(cls, LearnedPath) and cls.name == name
        assert weights[name] == entry.weight
        assert "top_k" in cls.DEFAULT_PARAMETERS
    with pytest.raises(ConfigError, match="unknown learned recall path 'forest'"):
        path_class("forest")


@pytest.mark.parametrize("name", LEARNED_PATHS)
def test_an_unfitted_path_refuses_to_score_and_a_fitted_one_survives_a_save(name, tmp_path):
    path = new_path(name, SMALL[name])
    with pytest.raises(NotFittedError, match=f"the {name} recall path is not fitted"):
        path.scores(["a kitten"], CENTRES[1:])
    with pytest.raises(NotFittedError):
        path.save(tmp_path / name)
    path.fit(TEXTS, TAGS, VECTORS)
    assert path.classes_ == ["cats", "dogs", "pets"] and path.n_contents_ == 60
    queries, vectors = ["a kitten purrs softly", "a puppy barks loudly"], CENTRES[::-1]
    before = path.scores(queries, vectors)
    assert max(before[0], key=before[0].get) == "cats" and max(before[1], key=before[1].get) in ("dogs", "pets")
    path.save(tmp_path / name, about={"revision": 7})
    assert not list(tmp_path.glob("*.pkl")), "saved as JSON and arrays, no pickle"
    loaded, about = path_class(name).load(tmp_path / name)
    assert about == {"revision": 7} and loaded.parameters == path.parameters
    after = loaded.scores(queries, vectors)
    assert [d.keys() for d in after] == [d.keys() for d in before]
    assert all(after[i][t] == pytest.approx(before[i][t], abs=1e-6) for i in range(2) for t in before[i])


def test_settings_a_path_does_not_have_or_of_the_wrong_type_are_named():
    with pytest.raises(ConfigError, match=r"\[recall.paths.supervised\]: unknown key\(s\) depth; expected C, "):
        new_path("supervised", {"depth": 3})
    with pytest.raises(ConfigError, match=r"\[recall.paths.tree\] cluster_k: expected int like 100, got 'many'"):
        new_path("tree", {"cluster_k": "many"})
    assert new_path("mlp", {"hidden": 8}).parameters["hidden"] == 8
    with pytest.raises(ValueError, match=r"unknown learned paths in \[recall.paths\]: \['forest'\]"):
        RecallConfig(paths={"forest": {}})


def test_a_path_saved_in_another_format_or_for_another_path_is_refused(tmp_path):
    path = new_path("mlp", SMALL["mlp"]).fit(TEXTS, TAGS, VECTORS)
    path.save(tmp_path / "mlp")
    with pytest.raises(ValueError, match="holds a 'mlp' path in format 1; expected 'supervised'"):
        path_class("supervised").load(tmp_path / "mlp")


def _old_pickle(tmp_path, module: str, cls: str, state: dict) -> None:
    """A pickle as the code before the format wrote it: an object of the old class, whole."""
    fake = types.ModuleType(module)
    old_class = type(cls, (), {"__module__": module})
    setattr(fake, cls, old_class)
    sys.modules[module] = fake
    try:
        obj = old_class()
        obj.__dict__.update(state)
        name = {"SupervisedScorer": "supervised", "PerceptronScorer": "mlp"}[cls]
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(obj))
    finally:
        del sys.modules[module]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_old_pickles_of_every_shape_load_as_the_path_they_held(tmp_path):
    from sklearn.neural_network import MLPClassifier

    fitted = new_path("supervised", SMALL["supervised"]).fit(TEXTS, TAGS, VECTORS)
    state = {"C": 8.0, "max_features": 50_000, "min_df": 1, "top_k": 50, "n_jobs": 1, "classes": fitted.classes_}
    state.update(contents=60, _vectorizer=fitted.vectoriser_, _weights=fitted.weights_, _bias=fitted.bias_)
    _old_pickle(tmp_path, "llm4tag.recall.supervised", "SupervisedScorer", {**state, "stamp": (3, 60, 60)})
    path, about = legacy.read(tmp_path, "supervised")
    assert about == {"revision": 3, "content_max_seq": 60, "contents": 60}
    assert path.scores(["a kitten"], None) == fitted.scores(["a kitten"], None)

    # the perceptron, saved with scikit-learn's fitted model (before its weights were kept as arrays)
    Y = np.array([[t == "cats", t == "dogs"] for t, *_ in TAGS])
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0).fit(VECTORS, Y)
    state = {"hidden": 8, "classes": ["cats", "dogs"], "contents": 60, "_model": model, "stamp": (1, 2, 3)}
    _old_pickle(tmp_path, "llm4tag.recall.perceptron", "PerceptronScorer", state)
    path, _ = legacy.read(tmp_path, "mlp")
    assert np.allclose(path.predict([""] * 5, VECTORS[:5]), model.predict_proba(VECTORS[:5]), atol=1e-6)
    # and with the arrays
    state = {"classes": ["cats", "dogs"], "contents": 60, "_layers": path.layers_, "stamp": (1, 2, 3)}
    _old_pickle(tmp_path, "llm4tag.recall.perceptron", "PerceptronScorer", state)
    again, _ = legacy.read(tmp_path, "mlp")
    assert np.allclose(again.predict([""] * 5, VECTORS[:5]), model.predict_proba(VECTORS[:5]), atol=1e-6)
    with pytest.raises(ValueError, match="does not hold a supervised recall path"):
        (tmp_path / "supervised.pkl").write_bytes((tmp_path / "mlp.pkl").read_bytes())
        legacy.read(tmp_path, "supervised")
