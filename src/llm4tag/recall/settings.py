"""The recall stage's settings (``[recall]`` in ``llm4tag.toml``) and the names of its paths.

A leaf module: reading a project's configuration imports this, not the algorithms (numpy, scipy, faiss).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PATHS = ("c2t", "c2c2t", "c2t2t", "lexical", "supervised", "tree", "mlp")
# fitted on the annotated contents: recall/supervised.py, recall/tree.py, recall/perceptron.py
LEARNED_PATHS = ("supervised", "tree", "mlp")


@dataclass
class RecallConfig:
    """Knobs of the recall stage; defaults were tuned on debtags dev and checked to hold elsewhere."""

    top_n: int = 30
    neighbours: int = 150
    neighbour_pool: int = 200
    dense_weight: float = 0.4
    vote_power: float = 3.0
    min_similarity: float = 0.05
    c2t_pool: int = 50
    seeds: int = 5
    tag_neighbours: int = 5
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "c2c2t": 1.0,
            "c2t": 0.1,
            "c2t2t": 0.05,
            "lexical": 0.03,
            "supervised": 2.5,
            "tree": 1.0,
            "mlp": 1.0,
        }
    )
    supervised_min_contents: int = 200  # fewer annotated contents: the learned path is skipped
    supervised_max_tags: int = 5000  # more annotated tags: paths with dense per-tag weights skipped (``dense_per_tag``)
    refit_growth: float = 0.1  # learned paths are refitted once the contents grew by this share (or rows changed)
    # reserved candidate slots for tags with at most `thin_examples` annotated examples (new and tail tags), by
    # content-tag similarity (C2T): the neighbour vote and the learned paths cannot propose a tag without
    # examples, so without these the LLM judge never sees it
    thin_slots: int = 3
    thin_examples: int = 10
    # for new tags (no example, or none the learned paths saw): the share, in their slot score, of their text's
    # similarity to the content mapped into the tag texts' space (``ContentTagGraph.tag_space_map``); 0: none
    thin_map_weight: float = 0.5
    # a tag whose examples all came after the learned paths were last fitted is new to them too: only the slots
    # can propose it, so it keeps the new tags' turn in the slots and their map (its examples in its prototype)
    thin_unseen_as_new: bool = True
    max_name_words: int = 6

    @property
    def active_paths(self) -> tuple[str, ...]:
        """The paths with a weight, sorted: what a ranker fitted on this recall stage saw scores from."""
        return tuple(sorted(name for name, weight in self.weights.items() if weight > 0))

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(PATHS)
        if unknown:
            raise ValueError(f"unknown recall paths in weights: {sorted(unknown)}; expected {PATHS}")
        if self.top_n < 1 or self.neighbours < 1:
            raise ValueError("top_n and neighbours must be at least 1")
        if not 0.0 <= self.thin_map_weight <= 1.0:
            raise ValueError(f"thin_map_weight must be between 0 and 1, not {self.thin_map_weight}")
