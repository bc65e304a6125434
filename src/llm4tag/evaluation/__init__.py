"""Evaluation: metrics shared by every stage, and per-stage evaluators."""

from llm4tag.evaluation.metrics import mean_recall_at, precision_at, recall_at

__all__ = ["mean_recall_at", "precision_at", "recall_at"]
