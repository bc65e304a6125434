"""Tagging at scale: streaming, resumable batch jobs (one process) and a Ray Data engine (a cluster)."""

from llm4tag.scale.batch import BatchReport, ResultWriter, tag_stream

__all__ = ["BatchReport", "ResultWriter", "tag_stream"]
