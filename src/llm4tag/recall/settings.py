"""The recall stage's settings (``[recall]`` in ``llm4tag.toml``) and the names of its paths.

A leaf module: reading a project's configuration imports this, not the algorithms (numpy, scipy, faiss).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llm4tag.recall.learned import REGISTRY

GRAPH_PATHS = {"c2t": 0.1, "c2c2t": 1.0, "c2t2t": 0.05, "lexical": 0.03}  # with their default weights
LEARNED_PATHS = tuple(REGISTRY)  # fitted on the annotated contents: recall/learned/
PATHS = (*GRAPH_PATHS, *LEARNED_PATHS)

# settings renamed since projects were first written: old name -> new name (read, and named in a warning)
RENAMED = {
    "supervised_min_contents": "learned_min_contents",
    "supervised_max_tags": "learned_max_tags",
    "thin_slots": "few_example_slots",
    "thin_examples": "few_examples",
    "thin_map_weight": "new_tag_map_weight",
    "thin_unseen_as_new": "unseen_tags_are_new",
}


def default_weights() -> dict[str, float]:
    return {**GRAPH_PATHS, **{name: entry.weight for name, entry in REGISTRY.items()}}


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
    weights: dict[str, float] = field(default_factory=default_weights)
    # each learned path's own settings, over its defaults (``[recall.paths.<name>]``; the path's
    # ``DEFAULT_PARAMETERS`` list them)
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    learned_min_contents: int = 200  # fewer annotated contents: the learned paths (and the tag-space map) wait
    learned_max_tags: int = 5000  # more annotated tags: learned paths with a weight per tag (``dense_per_tag``) skipped
    refit_growth: float = 0.1  # learned paths are refitted once the contents grew by this share (or rows changed)
    # candidate slots reserved for tags with at most `few_examples` annotated examples (new and tail tags), by
    # their similarity to the content (recall/reserved.py): without them the LLM judge never sees such a tag
    few_example_slots: int = 3
    few_examples: int = 10
    # for new tags (no example, or none the learned paths saw): the share, in their slot score, of their text's
    # similarity to the content mapped into the tag texts' space (``ContentTagGraph.tag_space_map``); 0: none
    new_tag_map_weight: float = 0.5
    # a tag whose examples all came after the learned paths were last fitted is new to them too: only the slots
    # can propose it, so it takes the new tags' turn in the slots and their map
    unseen_tags_are_new: bool = True
    max_name_words: int = 6

    @property
    def active_paths(self) -> tuple[str, ...]:
        """The paths with a weight, sorted: what a ranker fitted on this recall stage saw scores from."""
        return tuple(sorted(name for name, weight in self.weights.items() if weight > 0))

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(PATHS)
        if unknown:
            raise ValueError(f"unknown recall paths in weights: {sorted(unknown)}; expected {PATHS}")
        unknown = set(self.paths) - set(LEARNED_PATHS)
        if unknown:
            raise ValueError(f"unknown learned paths in [recall.paths]: {sorted(unknown)}; expected {LEARNED_PATHS}")
        if self.top_n < 1 or self.neighbours < 1:
            raise ValueError("top_n and neighbours must be at least 1")
        if not 0.0 <= self.new_tag_map_weight <= 1.0:
            raise ValueError(f"new_tag_map_weight must be between 0 and 1, not {self.new_tag_map_weight}")
