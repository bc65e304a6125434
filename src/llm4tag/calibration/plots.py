"""PNG plots people read faster than tables: reliability diagram, precision vs coverage (extra ``plots``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from llm4tag.calibration.pruning import prune
from llm4tag.errors import ConfigError
from llm4tag.evaluation.set_metrics import set_scores


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'llm4tag[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def reliability_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str) -> None:
    """One line per (labels, confidences): mean confidence vs share correct in 15 equal-width bins."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    edges = np.linspace(0, 1, 16)
    for name, (labels, confidences) in curves.items():
        labels, confidences = np.asarray(labels, float), np.asarray(confidences, float)
        which = np.clip(np.digitize(confidences, edges[1:-1], right=True), 0, 14)
        bins = [b for b in range(15) if (which == b).any()]
        ax.plot(
            [confidences[which == b].mean() for b in bins],
            [labels[which == b].mean() for b in bins],
            "o-",
            ms=3,
            label=name,
        )
    ax.set_xlabel("confidence")
    ax.set_ylabel("share correct")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def precision_coverage_curve(
    per_doc: list[tuple[list[str], np.ndarray]], golds: list[set[str]], max_tags: int = 15
) -> tuple[list[float], list[float]]:
    """(coverage = share of gold tags kept, micro precision) as the threshold sweeps 0.02 .. 0.98."""
    coverage, precision = [], []
    for threshold in np.linspace(0.02, 0.98, 49):
        scores = set_scores(golds, [prune(t, c, float(threshold), max_tags) for t, c in per_doc])
        coverage.append(scores.micro_recall)
        precision.append(scores.micro_precision)
    return coverage, precision


def coverage_plot(curves: dict[str, tuple[list[float], list[float]]], path: str | Path, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, (coverage, precision) in curves.items():
        ax.plot(coverage, precision, "-", label=name)
    ax.set_xlabel("coverage (share of gold tags kept)")
    ax.set_ylabel("precision")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
