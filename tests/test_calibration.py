"""Calibration: ECE and calibrators on synthetic scores with a known truth; threshold choice."""

import numpy as np
import pytest

from llm4tag.calibration import Calibrator, calibration_report, choose_threshold, expected_calibration_error, prune


def overconfident(n=20000, seed=0):
    """Raw scores that say 0.9 when the truth is 0.6: a Yes-biased judge."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 1, n)
    labels = (rng.uniform(0, 1, n) < truth).astype(int)
    raw = np.clip(0.5 + 0.8 * (truth - 0.5) + 0.3, 0, 1)
    return raw[:, None], labels


def test_ece_is_zero_for_perfect_confidence_and_large_for_bias():
    labels = np.array([1, 0, 1, 1])
    assert expected_calibration_error(labels, labels.astype(float)) == 0.0
    assert expected_calibration_error(np.zeros(100), np.full(100, 0.9)) == pytest.approx(0.9)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibrators_remove_a_systematic_bias(method):
    X, y = overconfident()
    before = calibration_report(y[10000:], X[10000:, 0])
    calibrator = Calibrator(method=method, per_tag=False).fit(X[:10000], y[:10000])
    after = calibration_report(y[10000:], calibrator.predict_proba(X[10000:]))
    assert before["ece"] > 0.15
    assert after["ece"] < 0.05
    assert after["brier"] < before["brier"]


def test_per_tag_calibration_falls_back_to_global_for_rare_tags():
    rng = np.random.default_rng(1)
    n = 4000
    tags = np.where(rng.uniform(size=n) < 0.5, "often-wrong", "fine")
    X = rng.uniform(size=(n, 1))
    y = np.where(tags == "often-wrong", rng.uniform(size=n) < 0.2 * X[:, 0], rng.uniform(size=n) < X[:, 0]).astype(int)
    tags = list(tags)
    tags[0] = "rare"
    calibrator = Calibrator("platt", per_tag=True, min_tag_labels=100).fit(X, y, tags)
    assert calibrator.tags_with_own_calibrator == 2
    p = calibrator.predict_proba(np.array([[0.9], [0.9], [0.9]]), ["often-wrong", "fine", "rare"])
    assert p[0] < 0.35 < p[1]
    global_only = Calibrator("platt", per_tag=False).fit(X, y).predict_proba(np.array([[0.9]]))
    assert p[2] == pytest.approx(global_only[0])


def test_threshold_choice_for_f1_and_for_target_precision():
    per_doc = [(["a", "b", "c"], np.array([0.9, 0.6, 0.2])), (["d", "e"], np.array([0.8, 0.3]))]
    golds = [{"a", "b"}, {"d"}]
    best = choose_threshold(per_doc, golds)
    assert best.f1 == pytest.approx(1.0) and 0.3 < best.threshold <= 0.6
    strict = choose_threshold(per_doc, golds, target_precision=1.0)
    assert strict.micro_precision == 1.0
    assert prune(["a", "b", "c"], np.array([0.9, 0.6, 0.2]), 0.5, 1) == ["a"]
    with pytest.raises(ValueError, match="precision"):
        choose_threshold([(["x"], np.array([0.9]))], [{"y"}], target_precision=0.5)


class _NoLogprobs:
    """An LLM that answers without log-probabilities (a fake for the judge's error path)."""

    name = "no-logprobs"

    def chat_batch(self, requests, on_done=None):
        from llm4tag.llm.base import ChatResult

        return [ChatResult(text="Yes") for _ in requests]


def test_judge_without_logprobs_fails_clearly_or_falls_back_when_asked():
    from llm4tag.errors import BackendError
    from llm4tag.generation.judge import Judge
    from llm4tag.generation.prompts import load_prompt
    from llm4tag.library import Tag, TagLibrary

    library = TagLibrary([Tag("chess", "Chess", description="the board game")])
    with pytest.raises(BackendError, match="log-probabilities"):
        Judge(_NoLogprobs(), load_prompt("judge"), library).judge("a chess engine", ["chess"])
    [score] = Judge(_NoLogprobs(), load_prompt("judge"), library, allow_fallback=True).judge("x", ["chess"])
    assert score.fallback and score.p_yes == 0.9


@pytest.mark.slow
def test_real_judge_shares_the_content_prefix(small_llm):
    from llm4tag.generation.judge import Judge
    from llm4tag.generation.prompts import load_prompt
    from llm4tag.library import Tag, TagLibrary

    library = TagLibrary(
        [
            Tag("chess", "Chess", description="the board game of chess"),
            Tag("audio", "Audio", description="sound and music"),
            Tag("mail", "Email", description="electronic mail"),
        ]
    )
    judge = Judge(small_llm, load_prompt("judge"), library)
    content = "A strong chess engine that analyses positions and plays against you. " * 3
    requests = [judge.request(content, t) for t in ("chess", "audio", "mail")]
    results = small_llm.chat_batch(requests)
    assert results[1].cached_tokens > 0.5 * results[1].prompt_tokens  # the content prefix was reused
    scores = judge.judge(content, ["chess", "audio", "mail"])
    assert all(0.0 <= s.p_yes <= 1.0 and not s.fallback for s in scores)
