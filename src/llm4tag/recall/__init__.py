"""Graph-based tag recall: the content–tag graph and its meta-paths."""

from llm4tag.registry import lazy_exports

_EXPORTS = {
    "PATHS": "llm4tag.recall.settings",
    "RecallConfig": "llm4tag.recall.settings",
    "Candidate": "llm4tag.recall.results",
    "Recaller": "llm4tag.recall.recaller",
    "RecallResult": "llm4tag.recall.results",
    "LearnedPath": "llm4tag.recall.learned.base",
    "NotFittedError": "llm4tag.recall.learned.base",
    "ContentTagGraph": "llm4tag.recall.graph",
    "IndexReport": "llm4tag.recall.recall_index",
    "RecallIndex": "llm4tag.recall.recall_index",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)  # names imported on first use: llm4tag.config reads settings only
