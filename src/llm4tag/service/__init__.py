"""The HTTP service: tagging, feedback, tag library, review queue, Annif-compatible API and a web UI."""

from llm4tag.registry import lazy_exports

__all__ = ["create_app"]

__getattr__ = lazy_exports(__name__, {"create_app": "llm4tag.service.app"})  # llm4tag.config reads settings only
