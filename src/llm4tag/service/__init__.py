"""The HTTP service: tagging, feedback, tag library, review queue, Annif-compatible API and a web UI."""

from llm4tag.service.app import create_app

__all__ = ["create_app"]
