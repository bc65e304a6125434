"""End to end with the real embedded models: MiniLM embeddings and the 0.5B llama.cpp model."""

import json

import pytest
from tests.conftest import DEBTAGS_TAGS, debtags_slice, write_jsonl

from llm4tag.corpus import load_corpus
from llm4tag.evaluation.recall_eval import evaluate_recall
from llm4tag.project import Project

pytestmark = pytest.mark.slow

NEW_TAG = {"id": "team::zephyr", "label": "Zephyr team", "description": ""}
ZEPHYR_EXAMPLES = [
    "Kubernetes operator that autoscales GPU inference clusters for large language models",
    "Scheduler for batched LLM inference requests across GPU nodes in a cluster",
    "Dashboard showing GPU utilisation and token throughput of inference servers",
    "Load balancer for model-serving replicas with KV-cache aware routing",
    "Command-line tool to benchmark tokens per second of LLM inference endpoints on GPUs",
]
ZEPHYR_QUERY = "Autoscaler for GPU clusters that serve large language model inference with batching"


@pytest.fixture(scope="module")
def embedder():
    from llm4tag.embedding import create_embedder

    return create_embedder("sentence-transformers", model="default")


@pytest.fixture(scope="module")
def debtags_project(tmp_path_factory, embedder, small_llm):
    root = tmp_path_factory.mktemp("e2e")
    train = write_jsonl(root / "train.jsonl", debtags_slice("train", 400))
    project = Project.init(root / "proj", embedder=embedder, llm=small_llm)
    project.add_tags(DEBTAGS_TAGS)
    project.add_contents(train)
    project.index()
    yield project
    project.close()


def test_recall_with_real_embeddings_beats_label_matching(debtags_project):
    docs = load_corpus(
        write_jsonl(debtags_project.directory / "dev.jsonl", debtags_slice("dev", 60)), library=debtags_project.library
    )
    vectors = debtags_project.embedder.encode([d.text for d in docs])
    result = evaluate_recall(debtags_project.recall_index.recaller, docs, vectors, ns=(10, 30))
    fused, lexical = result.recall["fused"], result.recall["lexical"]
    assert fused[30] > 0.6
    assert fused[30] > lexical[30] + 0.2
    assert fused[10] >= result.recall["c2t"][10]


def test_tagging_end_to_end_outputs_only_library_tags(debtags_project):
    docs = debtags_slice("test", 2)
    results = debtags_project.tag([d["text"] for d in docs], generation=True, judge="generated")
    library = debtags_project.library
    for result in results:
        candidates = {c.tag_id for c in result.recall.candidates}
        assert result.tags and all(t.tag_id in library and t.tag_id in candidates for t in result.tags)
        assert result.selection.invalid == 0  # constrained decoding: nothing to throw away
        record = json.loads(json.dumps(result.to_dict(with_candidates=True)))
        assert record["llm"]["prompt_tokens"] > 0


def test_learned_examples_teach_a_new_tag_without_retraining(debtags_project):
    project = debtags_project
    project.add_tags([__import__("llm4tag").library.Tag(**NEW_TAG)])

    def proposed() -> list[str]:
        [result] = project.tag([ZEPHYR_QUERY])
        return [t.tag_id for t in result.tags]

    assert NEW_TAG["id"] not in proposed()
    learn = write_jsonl(
        project.directory / "learn.jsonl",
        [{"id": f"zephyr-{i}", "text": t, "tags": [NEW_TAG["id"]]} for i, t in enumerate(ZEPHYR_EXAMPLES)],
    )
    assert project.learn(learn)["example"] == 5
    assert NEW_TAG["id"] in proposed()
