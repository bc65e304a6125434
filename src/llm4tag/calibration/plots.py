"""PNG plots people read faster than tables: reliability diagram, precision vs coverage (extra ``plots``)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from llm4tag.calibration.pruning import prune
from llm4tag.errors import ConfigError
from llm4tag.metrics.calibration import reliability_bins
from llm4tag.metrics.sets import set_scores


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'llm4tag[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def _chart(path: str | Path, title: str, xlabel: str, ylabel: str):
    """A square chart; the body draws lines on the axes, then it is labelled and saved."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    try:
        yield ax
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)


def reliability_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str) -> None:
    """One line per (labels, confidences): mean confidence vs share correct in 15 equal-width bins."""
    with _chart(path, title, "confidence", "share correct") as ax:
        ax.plot([0, 1], [0, 1], "k:", lw=1)
        for name, (labels, confidences) in curves.items():
            points = reliability_bins(labels, confidences)
            ax.plot([p[0] for p in points], [p[1] for p in points], "o-", ms=3, label=name)


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
    with _chart(path, title, "coverage (share of gold tags kept)", "precision") as ax:
        for name, (coverage, precision) in curves.items():
            ax.plot(coverage, precision, "-", label=name)
