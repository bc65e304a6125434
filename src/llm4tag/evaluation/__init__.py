"""Evaluation: the pipeline (or parts of it switched off) run over annotated contents and scored.

The metrics themselves are in ``llm4tag.metrics``.
"""

from llm4tag.evaluation.harness import ABLATIONS, EvalReport, evaluate
from llm4tag.evaluation.recall_eval import RecallEvaluation, evaluate_recall

__all__ = ["ABLATIONS", "EvalReport", "RecallEvaluation", "evaluate", "evaluate_recall"]
