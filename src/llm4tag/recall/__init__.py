"""Graph-based tag recall: the content–tag graph and its meta-paths."""

from llm4tag.recall.graph import ContentTagGraph
from llm4tag.recall.recall_index import IndexReport, RecallIndex
from llm4tag.recall.recaller import PATHS, Candidate, RecallConfig, Recaller, RecallResult

__all__ = [
    "PATHS",
    "Candidate",
    "ContentTagGraph",
    "IndexReport",
    "RecallIndex",
    "RecallConfig",
    "RecallResult",
    "Recaller",
]
