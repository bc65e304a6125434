"""Meta-paths on a tiny hand-made corpus where the right answer is known."""

import os

import numpy as np
import pytest

from llm4tag.project import Project
from llm4tag.recall import RecallConfig


@pytest.fixture
def project(tiny_project):
    return tiny_project


def recall(project, texts, **kwargs):
    return [result.candidates for result in project.recall(texts, **kwargs)]


def ranked_ids(candidates):
    return [c.tag_id for c in candidates]


ZEPHYR_TEXTS = [f"the zephyrine engine number {i}" for i in range(6)] + [f"a quiet garden tool {i}" for i in range(6)]
ZEPHYR_TAGS = [["team::zephyr"]] * 6 + [["garden"]] * 6


def zephyr_project(path, weights: dict[str, float], **recall) -> Project:
    """Twelve annotated contents of two tags, told apart by their words, with the learned paths fitted from 5."""
    from llm4tag.config import ProjectConfig
    from llm4tag.corpus import Document
    from llm4tag.library import Tag

    config = ProjectConfig(name="zephyr")
    config.embedding.backend, config.embedding.options = "tests.conftest:HashingEmbedder", {}
    config.recall.weights.update(weights)
    config.recall.learned_min_contents = 5
    for key, value in recall.items():
        setattr(config.recall, key, value)
    project = Project.init(path, config)
    project.add_tags([Tag("team::zephyr", "Zephyr team"), Tag("garden", "Garden")])
    project.add_contents([Document(f"d{i}", t, g) for i, (t, g) in enumerate(zip(ZEPHYR_TEXTS, ZEPHYR_TAGS))])
    return project


def test_c2c2t_neighbours_vote_their_tags(project):
    [candidates] = recall(project, ["network daemon that monitors servers"], weights={"c2c2t": 1.0})
    ids = ranked_ids(candidates)
    assert ids[:2] == ["net", "daemon"] or ids[:2] == ["daemon", "net"]
    net = next(c for c in candidates if c.tag_id == "net")
    assert "c2" in [content_id for content_id, _ in net.neighbours]
    assert 0 < net.paths["c2c2t"] <= 1


def test_c2t_matches_tag_text_without_any_annotation(project):
    project.add_tags([__import__("llm4tag").library.Tag("editor", "Text editor", description="edit text files")])
    [candidates] = recall(project, ["a small text editor for files"], weights={"c2t": 1.0})
    assert ranked_ids(candidates)[0] == "editor"


def test_c2t2t_reaches_tags_related_to_strong_matches(project):
    # "checkmate" only names the chess tag; "game" is reachable only through chess (co-annotation).
    [candidates] = recall(project, ["checkmate"], weights={"c2t2t": 1.0})
    by_id = {c.tag_id: c for c in candidates}
    assert "game" in by_id
    assert any(seed == "chess" for seed, _ in by_id["game"].via)


def test_c2t2t_sees_a_tag_added_after_its_seed_was_expanded(project):
    # the tag-tag similarity edges are memoised per seed; a new, similar tag must still be reached through it
    [before] = recall(project, ["checkmate"], weights={"c2t2t": 1.0})
    assert "chess-problems" not in ranked_ids(before)
    Tag = __import__("llm4tag").library.Tag
    project.add_tags([Tag("chess-problems", "Chess", description="chess")])
    [after] = recall(project, ["checkmate"], weights={"c2t2t": 1.0})
    by_id = {c.tag_id: c for c in after}
    assert "chess-problems" in by_id
    assert any(seed == "chess" for seed, _ in by_id["chess-problems"].via)


def test_lexical_baseline_finds_labels_and_aliases_only(project):
    [candidates] = recall(project, ["Instant checkmate trainer, with audio hints"], weights={"lexical": 1.0})
    assert set(ranked_ids(candidates)) == {"chess", "audio"}


def test_fused_ranking_combines_paths_and_keeps_provenance(project):
    [candidates] = recall(project, ["chess game with sound"])
    ids = ranked_ids(candidates)
    assert {"chess", "game", "audio"} <= set(ids[:4])
    assert all(c.paths for c in candidates)
    scores = [c.score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    record = candidates[0].to_dict()
    assert set(record) == {
        "tag_id",
        "score",
        "paths",
        "neighbours",
        "synthetic_neighbours",
        "via",
        "votes",
        "vote_similarity",
        "examples",
        "reserved",
        "prototype",
    }


def test_top_n_limits_candidates(project):
    [candidates] = recall(project, ["chess game with sound"], top_n=2)
    reserved = [c for c in candidates if c.reserved]
    # the top 2, then the slots reserved for tags with few examples (flagged also where they are in the top 2)
    config = project.config.recall
    assert len([c for c in candidates[2:] if not c.reserved]) == 0 and 0 < len(reserved) <= config.few_example_slots
    assert all(c.examples <= config.few_examples and c.prototype > 0 for c in reserved)


def test_deprecated_tags_are_never_recalled(project):
    from llm4tag.library import Tag

    project.add_tags(
        [Tag("chess", "Chess", aliases=("checkmate",), description="the board game of chess", deprecated=True)]
    )
    [candidates] = recall(project, ["chess tournament, checkmate"])
    assert "chess" not in ranked_ids(candidates)


def test_recall_config_rejects_unknown_paths():
    with pytest.raises(ValueError, match="unknown recall paths"):
        RecallConfig(weights={"c2x": 1.0})


def test_cooccurrence_edges_are_conditional_probabilities(project):
    graph = project.recall_index.graph
    co = graph.cooccurrence.toarray()
    chess, game = graph.tag_position["chess"], graph.tag_position["game"]
    assert co[chess, game] == pytest.approx(1.0)  # every chess content is a game
    assert co[game, chess] == pytest.approx(2 / 3)  # two of three games are chess
    assert np.allclose(np.diag(co), 0)


def test_set_scores_document_averaged_and_micro():
    from llm4tag.metrics.sets import set_scores

    scores = set_scores([{"a", "b"}, {"c"}, set()], [["a", "x"], []])
    assert scores.documents == 2
    assert scores.precision == pytest.approx((0.5 + 0.0) / 2)
    assert scores.recall == pytest.approx((0.5 + 0.0) / 2)
    assert scores.f1 == pytest.approx(0.25)
    assert scores.micro_precision == pytest.approx(1 / 2) and scores.micro_recall == pytest.approx(1 / 3)


def test_ndcg_rewards_gold_tags_ranked_early():
    from llm4tag.metrics.retrieval import ndcg_at

    assert ndcg_at({"a", "b"}, ["a", "b", "c"], 10) == pytest.approx(1.0)
    assert ndcg_at({"a"}, ["c", "a"], 10) == pytest.approx(1 / np.log2(3))
    assert ndcg_at({"a"}, ["c", "d"], 10) == 0.0


def test_recall_confidences_use_the_stored_calibrator(project):
    from tests.conftest import TINY_CONTENTS

    from llm4tag.corpus import Document

    texts = ["chess game with sound", "network daemon"]
    before = project.tag(texts, llm=False)
    raw = [r.scored.candidate_conf for r in before]
    assert all(np.allclose(r, np.clip([c.score for c in res.recall.candidates], 0, 1)) for r, res in zip(raw, before))
    report = project.calibrate([Document(**c) for c in TINY_CONTENTS], overrides={"judge": "none"}, per_tag=False)
    assert report["recall"]["pairs"] > 0 and project.artifacts.recall_calibrator() is not None
    calibrated = [r.scored.candidate_conf for r in project.tag(texts, llm=False)]  # the new calibrator is used
    assert all(((c >= 0) & (c <= 1)).all() for c in calibrated)
    assert not all(np.allclose(a, b) for a, b in zip(raw, calibrated))


def test_supervised_path_learns_words_that_predict_a_tag_and_refits_when_contents_grow_or_on_demand(tmp_path):
    from llm4tag.corpus import Document
    from llm4tag.recall.learned.supervised import SupervisedPath

    scorer = SupervisedPath(min_df=1).fit(ZEPHYR_TEXTS, ZEPHYR_TAGS)
    [scores] = scorer.scores(["zephyrine"])
    assert max(scores, key=scores.get) == "team::zephyr" and scores["team::zephyr"] > 0.5

    with zephyr_project(tmp_path / "p", {"supervised": 2.5}) as project:
        [result] = project.recall(["zephyrine"])
        assert result.candidates[0].tag_id == "team::zephyr" and "supervised" in result.candidates[0].paths
        first = project.recall_index.recaller.learned["supervised"]
        assert first.n_contents_ == 12
        project.add_contents([Document("d-new", "another zephyrine thing", ["team::zephyr"])])
        [result] = project.recall(["zephyrine"])
        assert (
            project.recall_index.recaller.learned["supervised"].n_contents_ == 12
        )  # one more of 12 (< 10%): reused, no refit
        assert (
            project.recall_index.recaller.learned["supervised"] is first
        )  # the one in memory, not read again from disk
        assert "d-new" in {cid for cid, _ in result.neighbours}  # while the graph sees the new content at once
        project.index(refit=True)  # on demand
        assert project.recall_index.recaller.learned["supervised"].n_contents_ == 13
        project.add_contents([Document(f"d-more{i}", f"zephyrine part {i}", ["team::zephyr"]) for i in range(2)])
        project.recall(["zephyrine"])
        assert project.recall_index.recaller.learned["supervised"].n_contents_ == 15  # grew by more than 10%: refitted
    with Project.open(tmp_path / "p") as project:
        project.config.recall.weights["supervised"] = 0.0
        [result] = project.recall(["zephyrine"])
        assert project.recall_index.recaller.learned.get("supervised") is None
        assert all("supervised" not in c.paths for c in result.candidates)


def test_the_supervised_path_learns_the_same_model_with_either_liblinear_solver(monkeypatch):
    """The dual solver is picked for speed when words far outnumber contents; the tags' scores must not move."""
    from llm4tag.recall.learned import supervised

    rng = np.random.default_rng(0)
    words = {"audio": "sound mixer synth", "graphics": "image pixel canvas", "network": "socket proxy packet"}
    texts, tags = [], []
    for _ in range(60):
        chosen = sorted(rng.choice(list(words), size=int(rng.integers(1, 3)), replace=False))
        pool = " ".join(words[t] for t in chosen).split() + [f"filler{j}" for j in rng.integers(0, 40, size=6)]
        texts.append(" ".join(rng.choice(pool, size=8)))
        tags.append(list(chosen))
    queries = ["a synth with a canvas", "proxy for sound packets", "filler3 filler7"]
    fitted = {}
    for name, threshold in (("dual", 0), ("primal", 10**9)):
        monkeypatch.setattr(supervised, "DUAL_FROM_FEATURES_PER_CONTENT", threshold)
        fitted[name] = supervised.SupervisedPath(min_df=1).fit(texts, tags).scores(queries)
    for dual, primal in zip(fitted["dual"], fitted["primal"]):
        assert dual.keys() == primal.keys()
        assert max(abs(dual[t] - primal[t]) for t in dual) < 2e-3
        assert max(dual, key=dual.get) == max(primal, key=primal.get)


def test_processes_that_see_the_same_growth_refit_a_learned_path_once(tmp_path, monkeypatch):
    """Two service workers (here two open projects, each with its own connection) recall at once after the
    contents grew past ``refit_growth``: one refits and saves, the other waits and loads what it saved."""
    import threading
    import time

    from llm4tag.corpus import Document

    with zephyr_project(tmp_path / "p", {"supervised": 2.5}) as project:
        project.recall(["zephyrine"])  # fitted on 12
        project.add_contents([Document(f"d-more{i}", f"zephyrine part {i}", ["team::zephyr"]) for i in range(3)])
    from llm4tag.recall import refits

    fits: list[str] = []
    fit = refits.fit_path

    def counted(name, *args):
        fits.append(name)
        time.sleep(0.5)  # long enough for the other worker to arrive meanwhile
        return fit(name, *args)

    monkeypatch.setattr(refits, "fit_path", counted)
    workers = [Project.open(tmp_path / "p"), Project.open(tmp_path / "p")]
    threads = [threading.Thread(target=w.recall, args=(["zephyrine"],)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert "supervised" in fits and sorted(fits) == sorted(workers[0].recall_index.recaller.learned)  # each once
        assert [w.recall_index.recaller.learned["supervised"].n_contents_ for w in workers] == [15, 15]
    finally:
        for worker in workers:
            worker.close()


def test_a_new_tag_gets_a_reserved_slot_and_learned_examples_move_its_prototype(project):
    """A new tag whose name says nothing about the content still gets one of the reserved slots (tags without
    examples take turns with tags with a few); the first examples learned move its prototype towards the
    contents it fits."""
    from llm4tag.corpus.knowledge import KnowledgeItem
    from llm4tag.library import Tag

    project.add_tags([Tag("zephyr", "Zephyr", description="")])
    query = "kubernetes operator that autoscales gpu inference replicas"
    [before] = recall(project, [query])
    new = next(c for c in before if c.tag_id == "zephyr")
    assert new.reserved and new.examples == 0
    assert (
        sum(c.reserved for c in before) == project.config.recall.few_example_slots
    )  # the rest went to tags with examples
    examples = ["operator autoscales gpu inference pods", "autoscaler for kubernetes gpu inference replicas"]
    project.learn(
        [KnowledgeItem("example", content_id=f"z{i}", text=t, tags=["zephyr"]) for i, t in enumerate(examples)]
    )
    [after] = recall(project, [query])
    learned = next(c for c in after if c.tag_id == "zephyr")
    assert learned.reserved and learned.examples == 2 and learned.prototype > new.prototype + 0.1


@pytest.mark.parametrize("trainer", ["_train_with_torch", "_train_with_sklearn"])
def test_either_trainer_of_the_perceptron_path_learns_where_each_tag_lies(trainer):
    """torch trains it where installed, scikit-learn elsewhere: both must learn the same thing."""
    if trainer == "_train_with_torch":
        pytest.importorskip("torch")
    from llm4tag.recall.learned import perceptron

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 24)).astype(np.float32)
    X = np.vstack([centres[i % 3] + 0.2 * rng.normal(size=24) for i in range(90)]).astype(np.float32)
    Y = np.zeros((90, 4), dtype=bool)
    Y[np.arange(90), np.arange(90) % 3] = True
    Y[np.arange(90) % 3 == 2, 3] = True  # a second tag on the third group
    if trainer == "_train_with_torch":
        import torch

        state = torch.random.get_rng_state()
    layers = getattr(perceptron, trainer)(X, Y, hidden=32, alpha=1e-3, epochs=150, batch_size=32, seed=0)
    if trainer == "_train_with_torch":  # its own seeded generator: torch's global one is left as it was
        assert torch.equal(torch.random.get_rng_state(), state)
    path = perceptron.PerceptronPath()
    path.layers_, path.classes_, path.n_contents_ = layers, ["a", "b", "c", "c2"], 90
    probabilities = path.predict([""] * len(centres), centres)
    assert (np.argmax(probabilities[:, :3], axis=1) == [0, 1, 2]).all()
    assert probabilities[2, 3] > 0.8 and probabilities[:2, 3].max() < 0.2


def test_perceptron_path_learns_tags_from_the_content_vectors_alone(tmp_path, hashing_embedder):
    from llm4tag.recall.learned.perceptron import PerceptronPath

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 16))
    vectors = np.vstack([centres[i % 2] + 0.1 * rng.normal(size=16) for i in range(40)])
    tags = [["left"] if i % 2 == 0 else ["right", "also-right"] for i in range(40)]
    scorer = PerceptronPath(hidden=16, epochs=200).fit(["unread text"] * 40, tags, vectors)
    near_left, near_right = scorer.scores(["x", "y"], np.vstack([centres[0], centres[1]]))
    assert max(near_left, key=near_left.get) == "left" and near_left["left"] > 0.8
    assert near_right["right"] > 0.8 and near_right["also-right"] > 0.8 and near_right["left"] < 0.2
    assert scorer.scores(["no vectors"]) == [{}]  # the texts alone say nothing to it
    one_tag = PerceptronPath(hidden=16).fit(["t"] * 40, [["left"]] * 40, vectors)  # on every content: no signal
    assert one_tag.scores(["x"], centres[:1]) == [{}] and one_tag.n_contents_ == 40
    with pytest.raises(ValueError, match="one vector per annotated content"):
        PerceptronPath().fit(["a", "b"], [["left"], ["right"]], vectors[:1])

    # in a project: fitted from the vectors the graph holds, found with its provenance, saved and reloaded
    only_mlp = {name: 0.0 for name in RecallConfig().weights} | {"mlp": 1.0}
    with zephyr_project(tmp_path / "p", only_mlp) as project:
        [result] = project.recall(["zephyrine engine"])
        assert result.candidates[0].tag_id == "team::zephyr" and "mlp" in result.candidates[0].paths
        assert (tmp_path / "p" / "graph" / "learned" / "mlp" / "path.json").is_file()
    with Project.open(tmp_path / "p") as project:
        [again] = project.recall(["zephyrine engine"])
        assert again.candidates[0].paths == pytest.approx(result.candidates[0].paths)


def test_provenance_is_worked_out_when_asked_and_travels_without_the_graph(project):
    import pickle

    texts = ["network daemon that monitors servers", "chess game with sound"]
    fresh = project.recall(texts)
    shipped = pickle.loads(pickle.dumps(project.recall(texts)))  # as batch workers and caches pass results on
    for result, copy in zip(fresh, shipped):
        assert [c.to_dict() for c in copy.candidates] == [c.to_dict() for c in result.candidates]
        assert all(c._provenance is None for c in copy.candidates)  # the lists came along, the graph did not
        for candidate in result.candidates:
            voters = candidate.neighbours
            assert len(voters) == min(candidate.votes, 5)
            assert [s for _, s in voters] == sorted((s for _, s in voters), reverse=True)
            if voters:
                assert candidate.vote_similarity == pytest.approx(voters[0][1])
                assert all(candidate.tag_id in doc.tags for doc in project.store.get_contents([c for c, _ in voters]))


def test_perceptron_path_is_skipped_where_per_tag_weights_would_not_fit(tmp_path):
    # two tags annotated: more than the cap
    with zephyr_project(tmp_path / "p", {"mlp": 1.0}, learned_max_tags=1) as project:
        [result] = project.recall(["zephyrine engine"])
        assert result.candidates and not any("mlp" in c.paths for c in result.candidates)
        assert project.recall_index.recaller.learned.get("mlp") is None


def test_candidate_recall_reports_the_learned_paths_that_ran_only(tmp_path):
    from llm4tag.corpus import Document
    from llm4tag.evaluation.recall_eval import evaluate_recall

    docs = [Document("q1", "zephyrine engine", ["team::zephyr"]), Document("q2", "garden tool", ["garden"])]
    with zephyr_project(tmp_path / "p", {"mlp": 1.0, "tree": 0.0}) as project:
        recaller = project.recall_index.recaller
        result = evaluate_recall(recaller, docs, project.embedder.encode([d.text for d in docs]), ns=(1, 2))
        assert "mlp" in result.recall and "supervised" in result.recall and "tree" not in result.recall
        assert result.recall["mlp"][1] == 1.0 and result.recall["fused"][2] == 1.0


def test_a_new_tag_is_found_through_what_the_other_tags_annotations_taught(tmp_path):
    """A new tag's text shares no word with a content that carries it; the map from contents into the tag
    texts' space, learned from the other tags' annotations, still puts it first among the tags without examples
    (by the raw similarity of texts the two new tags tie)."""
    from llm4tag.config import ProjectConfig
    from llm4tag.corpus import Document
    from llm4tag.library import Tag

    config = ProjectConfig(name="pets")
    config.embedding.backend, config.embedding.options = "tests.conftest:HashingEmbedder", {}
    config.recall.learned_min_contents, config.recall.few_examples, config.recall.few_example_slots = 5, 5, 2
    texts = [f"kitten {i} purrs on the sofa" for i in range(6)] + [f"puppy {i} barks at the mailman" for i in range(6)]
    with Project.init(tmp_path / "pets", config) as project:
        project.add_tags([Tag("felines", "Felines", description="cats"), Tag("canines", "Canines", description="dogs")])
        project.add_tags([Tag("cat-toys", "Toys", description="cats"), Tag("dog-toys", "Toys", description="dogs")])
        project.add_contents([Document(f"d{i}", t, ["felines" if i < 6 else "canines"]) for i, t in enumerate(texts)])
        query = "kitten purrs chasing yarn"

        def prototypes(weight: float) -> dict[str, float]:
            config.recall.new_tag_map_weight = weight
            [result] = project.recall([query])
            return {c.tag_id: c.prototype for c in result.candidates if c.reserved}

        unmapped, mapped = prototypes(0.0), prototypes(0.5)
    assert set(mapped) == set(unmapped) == {"cat-toys", "dog-toys"}
    assert abs(unmapped["cat-toys"] - unmapped["dog-toys"]) < 0.01
    assert mapped["cat-toys"] > mapped["dog-toys"] + 0.05


def test_a_tag_learned_after_the_learned_paths_were_fitted_keeps_the_new_tags_turn_in_the_slots(tmp_path):
    """Examples learned for a new tag move its prototype, but until the learned paths are refitted only the
    reserved slots can propose it: it keeps its turn among the new tags instead of queueing behind the tail."""
    from llm4tag.config import ProjectConfig
    from llm4tag.corpus import Document
    from llm4tag.corpus.knowledge import KnowledgeItem
    from llm4tag.library import Tag

    config = ProjectConfig(name="pets")
    config.embedding.backend, config.embedding.options = "tests.conftest:HashingEmbedder", {}
    config.recall.learned_min_contents, config.recall.few_examples, config.recall.few_example_slots = 5, 5, 1
    texts = [f"kitten {i} purrs on the sofa" for i in range(6)] + [f"puppy {i} barks at the mailman" for i in range(6)]
    tags = ["felines" if i < 6 else "canines" for i in range(12)]
    with Project.init(tmp_path / "pets", config) as project:
        project.add_tags([Tag("felines", "Felines"), Tag("canines", "Canines"), Tag("birds", "Birds")])
        project.add_tags([Tag("cat-toys", "Cat toys"), Tag("fish-food", "Fish food")])
        project.add_contents([Document(f"d{i}", t, [tag]) for i, (t, tag) in enumerate(zip(texts, tags))])
        project.add_contents([Document("d12", "a parrot sings in its cage", ["birds"])])  # the tail: fitted on
        query = "a toy mouse for the kitten to chase"
        project.recall([query])  # the learned paths are fitted now
        project.learn([KnowledgeItem("example", content_id="x1", text="kitten toy mouse", tags=["cat-toys"])])

        def slot(unseen_as_new: bool) -> list[str]:
            config.recall.unseen_tags_are_new = unseen_as_new
            [result] = project.recall([query])
            return [c.tag_id for c in result.candidates if c.reserved]

        assert slot(True) == ["cat-toys"]  # among the new tags, and the closest of them
        assert slot(False) == ["fish-food"]  # one example: behind the tag without any, whose turn comes first


def test_the_map_for_new_tags_is_the_same_whatever_the_blas_thread_count():
    """Processes that differ in BLAS threads (Ray actors, service workers, a CLI run) must learn the same map,
    bit for bit, or the same content gets different reserved slots and confidences in each."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from llm4tag.recall.graph import ContentTagGraph

    if max((info["num_threads"] for info in threadpool_info()), default=1) < 2:
        pytest.skip("one BLAS thread only: a thread count cannot change the order of the sums")
    rng = np.random.default_rng(0)
    dim, contents, tags = 256, 6000, 40
    graph = ContentTagGraph(dim)
    tag_ids = [f"t{i}" for i in range(tags)]
    graph.add_tags(tag_ids, tag_ids, rng.standard_normal((tags, dim)).astype(np.float32))
    # like sentence embeddings: close to a few directions and all on one side, so the regression is ill
    # conditioned and a different order of the sums shows in the map
    vectors = rng.standard_normal((contents, 10)) @ rng.standard_normal((10, dim)) + 3.0
    vectors = (vectors + 0.01 * rng.standard_normal((contents, dim))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    annotations = [[tag_ids[j] for j in rng.choice(tags, 2, replace=False)] for _ in range(contents)]
    graph.add_contents([f"c{i}" for i in range(contents)], vectors, annotations, texts=[""] * contents)
    maps = []
    for threads in (1, 2):
        graph._tag_space_map = None
        with threadpool_limits(threads):
            maps.append(graph.tag_space_map(min_contents=10))
    assert np.array_equal(maps[0], maps[1])


def test_the_supervised_paths_worker_processes_do_not_import_what_warning_filters_name(tmp_path, monkeypatch):
    """scikit-learn hands the warning filters to the worker processes that fit the supervised path, and a worker
    imports each category's module to read them: torch's, once MiniLM is loaded (3 s a worker). The fit hands
    over only light filters, so a worker imports nothing for them."""
    import sys
    import warnings

    from llm4tag.recall.learned.supervised import PARALLEL_FROM_CONTENTS, SupervisedPath

    (tmp_path / "heavy_marker.py").write_text(
        "import os\n"
        "open(os.path.join(os.environ['HEAVY_MARKERS'], str(os.getpid())), 'w').close()\n"
        "class HeavyWarning(UserWarning):\n"
        "    pass\n"
    )
    markers = tmp_path / "markers"
    markers.mkdir()
    monkeypatch.setenv("HEAVY_MARKERS", str(markers))
    monkeypatch.syspath_prepend(str(tmp_path))
    import heavy_marker

    texts = [f"{'kitten purrs' if i % 2 else 'puppy barks'} number {i}" for i in range(PARALLEL_FROM_CONTENTS)]
    tags = [["cats"] if i % 2 else ["dogs", "pets"] for i in range(PARALLEL_FROM_CONTENTS)]
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=heavy_marker.HeavyWarning)
            scorer = SupervisedPath(n_jobs=2, min_df=1).fit(texts, tags)
            assert any(f[2] is heavy_marker.HeavyWarning for f in warnings.filters)  # the filter is back
    finally:
        sys.modules.pop("heavy_marker", None)
    [scores] = scorer.scores(["a kitten purrs"])
    assert max(scores, key=scores.get) == "cats"  # the fit itself worked
    assert [p.name for p in markers.iterdir()] == [str(os.getpid())]  # only this process imported it


def test_the_fitted_tree_path_is_the_unit_of_reproducibility(tmp_path):
    """omikuji's fit is not repeatable (docs/benchmarks.md, "Reproducibility"), so the fitted model is saved with
    the project: every copy, opened anew, recalls the same candidates with the same scores, and opening one
    never refits it."""
    import shutil

    from tests.conftest import debtags_project, debtags_slice

    built = debtags_project(tmp_path / "p", train=400)
    saved = built / "graph" / "learned" / "tree" / "path.json"
    assert saved.exists()
    texts = [r["text"] for r in debtags_slice("test", 40)]
    recalled = []
    for name in ("a", "b"):
        copy = shutil.copytree(built, tmp_path / name)
        with Project.open(copy) as project:
            saved = copy / "graph" / "learned" / "tree" / "path.json"
            stamp = saved.stat().st_mtime_ns
            results = project.recall(texts)
            assert saved.stat().st_mtime_ns == stamp  # loaded, not refitted
            assert project.recall_index.recaller.learned.get("tree") is not None
            recalled.append([[(c.tag_id, c.score, sorted(c.paths)) for c in r.candidates] for r in results])
    assert recalled[0] == recalled[1]


def test_a_learned_path_left_half_written_is_refitted_from_the_store(tmp_path, caplog):
    """``path.json`` is the last file of a saved path: a crash before it leaves a directory without one."""
    import logging

    with zephyr_project(tmp_path / "p", {"supervised": 2.5}) as project:
        project.recall(["zephyrine"])
    saved = tmp_path / "p" / "graph" / "learned" / "supervised"
    (saved / "path.json").unlink()
    with caplog.at_level(logging.WARNING, logger="llm4tag"), Project.open(tmp_path / "p") as project:
        [result] = project.recall(["zephyrine"])
        assert "supervised" in result.candidates[0].paths
    assert "saved supervised recall path" in caplog.text and "refitting it" in caplog.text
    assert (saved / "path.json").is_file()
