"""``optimize`` switches the LLM on only where it raises held-out F1 by more than chance."""

import numpy as np

from llm4tag.calibration.confidence import ScoredCandidates
from llm4tag.calibration.decision import LLMDecision, decide_llm


def _held_out(n: int, judge_signal: float, seed: int = 0) -> tuple[list[ScoredCandidates], list[set[str]]]:
    """Contents with 8 considered candidates; recall evidence is weak, the judge's P(Yes) carries
    ``judge_signal`` (0: pure noise)."""
    rng = np.random.default_rng(seed)
    scored, golds = [], []
    for _ in range(n):
        ids = [f"t{i}" for i in range(8)]
        truth = rng.uniform(size=8) < np.linspace(0.7, 0.05, 8)
        recall = np.clip(0.35 + 0.15 * truth + rng.normal(0, 0.2, 8), 0.01, 0.99)
        p_yes = np.clip(0.5 + judge_signal * (truth - 0.5) + rng.normal(0, 0.15, 8), 0.01, 0.99)
        scored.append(ScoredCandidates(ids, recall, p_yes, np.zeros(8, bool), recall.copy(), recall.copy(), list(ids)))
        golds.append({t for t, ok in zip(ids, truth) if ok})
    return scored, golds


def test_an_informative_judge_is_switched_on():
    decision = decide_llm(*_held_out(200, judge_signal=0.8), judge="candidates", generation=False, top_n=8)
    assert decision.use_llm and decision.gain_ci95[0] > 0
    assert decision.with_llm_f1 > decision.recall_only_f1 + 0.05
    assert decision.llm_calls_per_content == 8 and len(decision.per_fold) == decision.folds == 5


def test_a_judge_that_adds_nothing_stays_off():
    decision = decide_llm(*_held_out(200, judge_signal=0.0), judge="candidates", generation=False, top_n=8)
    assert not decision.use_llm and decision.gain_ci95[0] <= 0 and "not significant" in decision.reason


def test_too_few_held_out_contents_decide_nothing():
    decision = decide_llm(*_held_out(12, judge_signal=0.8), judge="candidates", generation=False, top_n=8)
    assert not decision.use_llm and "too few" in decision.reason and decision.documents == 12


def test_decision_round_trip(tmp_path):
    decision = decide_llm(*_held_out(60, judge_signal=0.8), judge="candidates", generation=False, top_n=8)
    decision.save(tmp_path / "d.json")
    loaded = LLMDecision.load(tmp_path / "d.json")
    assert loaded.use_llm == decision.use_llm and loaded.shape == "candidates"
    assert loaded.gain_ci95 == tuple(round(v, 4) for v in decision.gain_ci95)


def _with_few_examples(scored, golds, seed: int = 1):
    """The last two considered tags of each content have few examples and little recall evidence; the judge
    reads them well."""
    rng = np.random.default_rng(seed)
    for s, gold in zip(scored, golds):
        s.few_examples = np.array([False] * 6 + [True] * 2)
        for i in (6, 7):
            right = rng.uniform() < 0.3
            (gold.add if right else gold.discard)(s.tag_ids[i])
            s.p_yes[i] = 0.97 if right else float(rng.uniform(0.05, 0.4))
            s.recall_conf[i] = s.candidate_conf[i] = 0.1
    return scored, golds


def test_judging_only_tags_with_few_examples_is_chosen_where_it_carries_the_gain():
    scored, golds = _with_few_examples(*_held_out(200, judge_signal=0.0))
    decision = decide_llm(scored, golds, judge="candidates", generation=False, top_n=8)
    assert decision.use_llm and decision.judge == "few-examples"
    assert decision.variants["few-examples"]["gain_ci95"][0] > 0
    assert decision.llm_calls_per_content == 2  # only the two few-example pairs of each content


def test_judging_tags_with_few_examples_that_adds_nothing_stays_off():
    scored, golds = _held_out(200, judge_signal=0.0)
    for s, gold in zip(scored, golds):
        s.few_examples = np.array([False] * 6 + [True] * 2)
        for i in (6, 7):
            gold.discard(s.tag_ids[i])
            s.p_yes[i] = 0.2
            s.recall_conf[i] = s.candidate_conf[i] = 0.02
    decision = decide_llm(scored, golds, judge="candidates", generation=False, top_n=8)
    assert not decision.use_llm and decision.judge == "none" and "recall only" in decision.reason
