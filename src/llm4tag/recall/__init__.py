"""Graph-based tag recall: the content–tag graph and its meta-paths."""

_EXPORTS = {
    "PATHS": "llm4tag.recall.settings",
    "RecallConfig": "llm4tag.recall.settings",
    "Candidate": "llm4tag.recall.recaller",
    "Recaller": "llm4tag.recall.recaller",
    "RecallResult": "llm4tag.recall.recaller",
    "ContentTagGraph": "llm4tag.recall.graph",
    "IndexReport": "llm4tag.recall.recall_index",
    "RecallIndex": "llm4tag.recall.recall_index",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Names are imported on first use: reading the settings module of this package (``llm4tag.config`` does)
    must not load the algorithms and their libraries."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
