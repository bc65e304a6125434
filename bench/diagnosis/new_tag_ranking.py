"""How well the reserved slots' scores rank the new tags: the gold new tag's place among all new tags.

    .venv/bin/python -m bench.diagnosis.new_tag_ranking --project cold/base [--data ../shared/data/debtags]

On the cold-start benchmark's base project (`bench_cold_start.py`: a seeded 10% of the tags stripped from
train, so they have no example), for every occurrence of such a tag in test: its rank among the new tags by
each score. With three reserved slots, new tags take two (they alternate with the tags that have a few
examples, new ones first), so hit@2 is about the share that reaches the candidates through a slot. A minute
or so, no LLM, nothing written; a variant of the score can be tried here before it is built into recall.

Scores: the text similarity; the similarity through the project's ridge map into the tag texts' space; their
blend as recall computes it (``new_tag_map_weight``), with and without the lexical part (``dense_weight``); and,
for comparison, a bilinear map trained on the tags that have examples with a softmax over tags (a DeViSE-like
zero-shot model; torch), started from the ridge map or the identity.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from bench.common import project_parser
from llm4tag.project import Project


def normalised(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def hits(scores: np.ndarray, golds: list[list[int]], ks=(1, 2, 3, 5)) -> dict[str, float]:
    """Share of the gold (row, column) pairs whose score is beaten by fewer than k columns of its row."""
    ranks = np.array([int((scores[row] > scores[row, col]).sum()) for row, cols in enumerate(golds) for col in cols])
    return {"occurrences": len(ranks)} | {f"hit@{k}": round(float(np.mean(ranks < k)), 3) for k in ks}


def bilinear(
    X: np.ndarray, Y: np.ndarray, tags: np.ndarray, start: np.ndarray, *, reg: float, tau=0.05, steps=300
) -> np.ndarray:
    """W such that normalise(x W) . tag text ranks each content's tags first (softmax over the known tags),
    kept near ``start`` by ``reg``."""
    import torch

    torch.manual_seed(0)
    W, W0 = torch.tensor(start.copy(), requires_grad=True), torch.tensor(start)
    Xt, Tt = torch.tensor(X), torch.tensor(tags)
    Yt = torch.tensor(Y, dtype=torch.float32)
    Yt = Yt / Yt.sum(1, keepdim=True).clamp(min=1)
    optimiser = torch.optim.Adam([W], lr=1e-3)
    for _ in range(steps):
        rows = torch.randint(0, len(Xt), (2048,))
        logits = torch.nn.functional.normalize(Xt[rows] @ W, dim=1) @ Tt.T / tau
        loss = -(Yt[rows] * torch.log_softmax(logits, 1)).sum(1).mean() + reg * ((W - W0) ** 2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return W.detach().numpy()


def main() -> None:
    parser = project_parser()
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = Path(args.data)
    tag_ids = sorted(json.loads(line)["id"] for line in (data / "tags.jsonl").open())
    held = set(random.Random(args.seed).sample(tag_ids, round(len(tag_ids) * args.fraction)))
    test = [json.loads(line) for line in (data / "test.jsonl").open()]
    with Project.open(args.project) as project:
        graph, cfg = project.recall_index.graph, project.config.recall
        X = np.asarray(graph.content_dense.vectors[: graph.n_contents], dtype=np.float32)
        annotations = graph.annotations.tocsr()[: graph.n_contents]
        texts = normalised(np.asarray(graph.tag_dense.vectors[: graph.n_tags], dtype=np.float32))
        position = {t: i for i, t in enumerate(graph.tag_ids)}
        ridge = graph.tag_space_map(cfg.learned_min_contents)
        vectors = project.embedder.encode([d["text"] for d in test])
        lexical = graph.tag_lexical_similarities(graph.content_lexical.transform([d["text"] for d in test]))
    new = np.array(sorted(position[t] for t in held if t in position))
    if graph.tag_frequency[new].any():
        raise SystemExit("the held-out tags have examples here: pass the cold-start benchmark's base project")
    column = {p: i for i, p in enumerate(new.tolist())}
    golds = [[column[position[t]] for t in d["tags"] if t in held and t in position] for d in test]
    lexical = lexical[:, new].toarray()
    text = np.clip(vectors @ texts[new].T, 0, 1)
    w, dense = cfg.new_tag_map_weight, cfg.dense_weight

    def blended(mapping: np.ndarray) -> np.ndarray:
        return (1 - w) * text + w * np.clip(normalised(vectors @ mapping) @ texts[new].T, 0, 1)

    report = {
        "text similarity": hits(text, golds),
        "through the ridge map": hits(np.clip(normalised(vectors @ ridge) @ texts[new].T, 0, 1), golds),
        f"blend (new_tag_map_weight {w})": hits(blended(ridge), golds),
        f"blend and lexical, as recall (dense_weight {dense})": hits(
            dense * blended(ridge) + (1 - dense) * lexical, golds
        ),
    }
    seen = np.flatnonzero(graph.tag_frequency[: graph.n_tags] > 0)
    Y = annotations[:, seen].toarray() > 0
    keep = Y.any(1)
    for name, start in (("ridge map", ridge), ("identity", np.eye(ridge.shape[0], dtype=np.float32))):
        for reg in (1e-3, 1e-2):
            mapping = bilinear(X[keep], Y[keep], texts[seen], start.astype(np.float32), reg=reg)
            report[f"bilinear from the {name}, reg {reg}, blended and lexical"] = hits(
                dense * blended(mapping) + (1 - dense) * lexical, golds
            )
    for name, row in report.items():
        print(f"{name:70s} " + "  ".join(f"{k} {v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
