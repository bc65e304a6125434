"""Fitting on held-out annotated contents: what ``llm4tag calibrate`` and ``llm4tag optimize`` compute.

These functions take what the pipeline produced for the held-out contents (recall results, scored
candidates) and the gold tags; running the pipeline is the caller's business, so calibration never
depends on the pipeline that depends on it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from llm4tag.calibration.artifacts import CalibrationArtifacts
from llm4tag.calibration.calibrator import Calibrator
from llm4tag.calibration.confidence import (
    JUDGE_FEATURES,
    ConfidenceSettings,
    ScoredCandidates,
    final_confidence,
    fit_judge_models,
    judged_pairs,
)
from llm4tag.calibration.decision import decide_llm, few_examples_only
from llm4tag.calibration.features import RECALL_FEATURES, labelled_pairs
from llm4tag.calibration.pruning import RULES, choose_threshold, few_examples_floor_for
from llm4tag.calibration.routing import choose_routing
from llm4tag.calibration.tuning import tune_recall
from llm4tag.corpus.documents import Document, seeded_sample
from llm4tag.errors import ProjectError
from llm4tag.metrics.calibration import calibration_report
from llm4tag.metrics.sets import set_scores
from llm4tag.recall.recall_index import RecallIndex
from llm4tag.recall.results import RecallResult

AUTO_CANDIDATES = ("boosting", "platt")


def cross_validated_log_loss(
    X: np.ndarray, y: np.ndarray, tags: list[str], docs: np.ndarray, method: str, per_tag: bool, folds: int = 3
) -> float:
    """Log-loss of out-of-fold predictions, folds split by content (a content's candidates stay together)."""
    from sklearn.metrics import log_loss
    from sklearn.model_selection import GroupKFold

    predicted = np.zeros(len(y))
    tag_array = np.asarray(tags)
    for train, held in GroupKFold(n_splits=folds).split(X, y, docs):
        if len(np.unique(y[train])) < 2:
            return float("inf")
        model = Calibrator(method=method, per_tag=per_tag).fit(X[train], y[train], list(tag_array[train]))
        predicted[held] = model.predict_proba(X[held], list(tag_array[held]))
    return float(log_loss(y, np.clip(predicted, 1e-6, 1 - 1e-6)))


def fit_recall_calibrator(
    results: list[RecallResult],
    golds: list[set[str]],
    *,
    method: str = "auto",
    per_tag: bool | None = None,
    paths: tuple[str, ...] = (),
) -> tuple[Calibrator, dict]:
    """The recall-only calibrator, the learned ranker: every recalled candidate of every content is one labelled
    pair. ``method="auto"`` picks the model with the lowest cross-validated log-loss on these contents (boosted
    trees over every feature usually; logistic regression where there is too little to learn trees from).
    ``per_tag`` (default: for platt and isotonic, not for boosting, which measured better without) adds per-tag
    scaling. ``paths``: the recall paths that had a weight (``RecallConfig.active_paths``), recorded with it.
    """
    X, y, tags, docs = labelled_pairs(results, golds)
    chosen, scores = method, {}
    if method == "auto":
        folds = min(3, len(results))
        for option in AUTO_CANDIDATES:
            tagwise = option != "boosting" if per_tag is None else per_tag
            scores[option] = cross_validated_log_loss(X, y, tags, docs, option, tagwise, folds) if folds > 1 else 0.0
        chosen = min(scores, key=scores.get)
    per_tag = chosen != "boosting" if per_tag is None else per_tag
    calibrator = Calibrator(method=chosen, per_tag=per_tag).fit(X, y, tags, feature_names=RECALL_FEATURES)
    calibrator.recall_paths = sorted(paths)
    return calibrator, {
        "method": chosen,
        "cross_validated_log_loss": {k: round(v, 5) for k, v in scores.items()},
        "pairs": len(y),
        "tags_with_own_calibrator": calibrator.tags_with_own_calibrator,
        "raw_fused_score": calibration_report(y, np.clip(X[:, 0], 0, 1)),
        "calibrated_in_sample": calibration_report(y, calibrator.predict_proba(X, tags)),
    }


def fit_judge_calibrator(
    scored: list[ScoredCandidates], golds: list[set[str]]
) -> tuple[Calibrator | None, Calibrator | None, dict]:
    """The judge calibrator (recall-only confidence combined with the judge's P(Yes)) and the zero-shot one
    (P(Yes) alone, for tags with few examples): ``confidence.fit_judge_models``. Every considered pair must
    have been judged."""
    judge_model, zero_shot_model = fit_judge_models(scored, golds)
    X, y = judged_pairs(scored, golds)
    Z, z = judged_pairs(scored, golds, few_examples=True, zero_shot=True)
    report = {
        "documents": len(scored),
        "pairs": len(y),
        "raw_p_yes": calibration_report(y, np.concatenate([s.p_yes[s.judged & ~s.few_examples_mask] for s in scored])),
    }
    if judge_model is not None:
        report["calibrated_in_sample"] = calibration_report(y, judge_model.predict_proba(X))
    if len(np.unique(y)) == 2:  # how well each score tells right from wrong pairs (1.0: perfectly; 0.5: not at all)
        from sklearn.metrics import roc_auc_score

        recall_conf = np.concatenate([s.recall_conf[s.judged & ~s.few_examples_mask] for s in scored])
        report["roc_auc"] = {"recall_only": round(float(roc_auc_score(y, recall_conf)), 4)}
        report["roc_auc"]["judge_p_yes"] = round(
            float(roc_auc_score(y, X[:, JUDGE_FEATURES.index("judge_log_odds")])), 4
        )
        if judge_model is not None:
            report["roc_auc"]["combined_in_sample"] = round(float(roc_auc_score(y, judge_model.predict_proba(X))), 4)
    if len(z):
        report["tags_with_few_examples"] = {"pairs": len(z), "right": int(z.sum())}
        if zero_shot_model is not None and len(np.unique(z)) == 2:
            report["tags_with_few_examples"]["zero_shot"] = calibration_report(z, zero_shot_model.predict_proba(Z))
    return judge_model, zero_shot_model, report


def choose_settings(
    scored: list[ScoredCandidates],
    golds: list[set[str]],
    *,
    target_precision: float | None = None,
    route: bool = False,
    max_f1_loss: float = 0.01,
) -> ConfidenceSettings:
    """Pruning threshold and tag limit (best F1, or most coverage at a precision) and, with ``route``, the
    routing band (fewest LLM judgements within ``max_f1_loss`` of judging everything). ``scored`` must be
    unrouted: every considered pair judged."""
    per_doc = [(s.tag_ids, s.confidence) for s in scored]
    choice = choose_threshold(
        per_doc, golds, target_precision=target_precision, rules=RULES, expected_gold=[s.expected_gold for s in scored]
    )
    unpruned = set_scores(golds, [list(tags) for tags, _ in per_doc])
    settings = ConfidenceSettings(
        threshold=choice.threshold,
        max_tags=choice.max_tags,
        rule=choice.rule,
        route_lower=-1.0,
        route_upper=2.0,
        few_examples_floor=few_examples_floor_for(choice.f1),
    )
    report = {
        "documents": len(scored),
        "pruning": choice.to_dict(),
        "unpruned": unpruned.to_dict(),
        "few_examples_floor": settings.few_examples_floor,
    }
    if route:
        routing = choose_routing(
            [(s.tag_ids, s.recall_conf, s.confidence) for s in scored],
            golds,
            pruning=choice.pruning,
            max_f1_loss=max_f1_loss,
        )
        settings.route_lower, settings.route_upper = routing.lower, routing.upper
        report["routing"] = routing.to_dict()
    settings.report = report
    return settings


def plot_runs(scored: list[ScoredCandidates], golds: list[set[str]], directory: Path, *, judged: bool) -> None:
    """Reliability and precision-vs-coverage plots of held-out runs (recall-only, and with the judge)."""
    from llm4tag.calibration.plots import coverage_plot, precision_coverage_curve, reliability_plot

    directory.mkdir(parents=True, exist_ok=True)
    per_run = {"recall only": [s.recall_conf for s in scored]}
    if judged:
        per_run["recall + judge"] = [s.confidence for s in scored]
    labels = np.array([t in gold for s, gold in zip(scored, golds) for t in s.tag_ids], dtype=float)
    what = f"{len(scored)} held-out contents"
    reliability_plot(
        {name: (labels, np.concatenate(confs)) for name, confs in per_run.items()},
        directory / "reliability.png",
        f"Reliability ({what})",
    )
    coverage_plot(
        {
            name: precision_coverage_curve([(s.tag_ids, c) for s, c in zip(scored, confs)], golds)
            for name, confs in per_run.items()
        },
        directory / "precision_coverage.png",
        f"Precision vs coverage ({what})",
    )


def _annotated(docs: list[Document], what: str) -> list[Document]:
    docs = [d for d in docs if d.tags]
    if not docs:
        raise ProjectError(f"{what} needs annotated contents (none of these have tags)")
    return docs


def calibrate(
    docs: list[Document],
    artifacts: CalibrationArtifacts,
    *,
    recall: Callable[[list[Document]], list[RecallResult]],
    judged: Callable[[list[Document]], list[ScoredCandidates]] | None = None,
    method: str = "auto",
    per_tag: bool | None = None,
    llm_sample: int = 200,
    seed: int = 0,
    paths: tuple[str, ...] = (),
) -> dict:
    """``llm4tag calibrate``: fit the recall-only calibrator on held-out ``docs`` (``recall`` gives their
    candidates) and, when the pipeline judges (``judged`` runs it with every considered pair judged), the judge
    calibrator on a seeded sample of ``llm_sample`` of them. Both are saved into ``artifacts``."""
    docs = _annotated(docs, "calibration")
    golds = [set(d.tags) for d in docs]
    calibrator, report = fit_recall_calibrator(recall(docs), golds, method=method, per_tag=per_tag, paths=paths)
    artifacts.save_recall_calibrator(calibrator)
    out = {"recall": report}
    if judged is not None:
        sample = seeded_sample(docs, llm_sample, seed)  # LLM work: bounded to a seeded sample
        judge_model, zero_shot_model, out["judge"] = fit_judge_calibrator(judged(sample), [set(d.tags) for d in sample])
        if judge_model is None and zero_shot_model is None:
            raise ProjectError(
                f"the judge's pairs on {len(sample)} calibration contents are all right or all wrong: nothing to"
                " calibrate on; use more contents (--llm-sample)"
            )
        if judge_model is not None:
            artifacts.save_judge_calibrator(judge_model)
        if zero_shot_model is not None:
            artifacts.save_zero_shot_calibrator(zero_shot_model)
    return out


def optimize(
    docs: list[Document],
    artifacts: CalibrationArtifacts,
    *,
    judged: Callable[[list[Document]], list[ScoredCandidates]],
    judge: str,
    generation: bool,
    route: bool = True,
    target_precision: float | None = None,
    max_f1_loss: float = 0.01,
    llm_sample: int = 200,
    seed: int = 0,
    plots: str | Path | None = None,
    recall_index: RecallIndex | None = None,
    save_config: Callable[[], None] | None = None,
    tune_seconds: float = 0.0,
    decide: bool = False,
    top_n: int = 8,
    few_examples_floor: float | None = None,
) -> dict:
    """``llm4tag optimize``: choose and save the settings of the pipeline shape (``judge``, ``generation``) on
    held-out ``docs``, run through ``judged`` (every considered pair judged, nothing pruned); when the shape
    calls the LLM, on a seeded sample of ``llm_sample`` of them. With ``recall_index`` and ``tune_seconds``,
    the recall settings are searched first (``tuning.tune_recall``); a better one is saved (``save_config``)
    and the ranker refitted for it. With ``decide``, whether this LLM shape beats recall only on the same contents
    is measured (``decision.decide_llm``; ``top_n``: the candidates recall only considers; ``few_examples_floor``: the
    least confidence of a tag with few examples kept on the LLM's word, None: the one chosen here, half the
    held-out F1) and saved."""
    docs = _annotated(docs, "optimize")
    tuned = None
    if recall_index is not None and tune_seconds > 0:
        config, tuned = tune_recall(
            docs,
            recall_index.config,
            lambda cfg, ds: recall_index.recall_documents(ds, cfg),
            budget_seconds=tune_seconds,
        )
        if tuned["chosen"]:
            recall_index.use_config(config)
            if save_config is not None:
                save_config()
            calibrate(docs, artifacts, recall=recall_index.recall_documents, paths=config.active_paths)
    if judge != "none" and artifacts.judge_calibrator() is None and artifacts.zero_shot_calibrator() is None:
        raise ProjectError("no judge calibrator in this project; run 'llm4tag calibrate' first")
    if judge != "none" or generation:
        docs = seeded_sample(docs, llm_sample, seed)
    scored, golds = judged(docs), [set(d.tags) for d in docs]
    settings = choose_settings(
        scored, golds, target_precision=target_precision, route=route and judge != "none", max_f1_loss=max_f1_loss
    )
    path = artifacts.save_settings(settings, judge, generation)
    if plots:
        plot_runs(scored, golds, Path(plots), judged=judge != "none")
    report = {**settings.report, **({"recall_tuning": tuned} if tuned else {}), "saved_to": str(path)}
    if decide:
        floor = few_examples_floor if few_examples_floor is not None else settings.few_examples_floor
        decision = decide_llm(
            scored, golds, judge=judge, generation=generation, top_n=top_n, few_examples_floor=floor, seed=seed
        )
        if decision.use_llm and decision.judge != judge:  # judging only tags with few examples: its own settings
            models = (artifacts.judge_calibrator(), artifacts.zero_shot_calibrator())
            only_few = [few_examples_only(s) for s in scored]
            for s in only_few:
                s.confidence = final_confidence(s.recall_conf, s.p_yes, s.selected, s.few_examples_mask, *models)
            chosen = choose_settings(only_few, golds, target_precision=target_precision)
            report["chosen_settings"] = {
                **chosen.report,
                "saved_to": str(artifacts.save_settings(chosen, "few-examples", False)),
            }
        report["llm_decision"] = {**decision.to_dict(), "saved_to": str(artifacts.save_llm_decision(decision))}
    return report
