"""Validation metrics: AUROC/AUPRC against scikit-learn, hooks, improvement rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from seizure.training import metrics as M


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_auprc_match_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.random(500) < 0.1
    # rounded scores: many ties, which is where rank-based AUROC is easy to get wrong
    scores = np.round(rng.random(500) + 0.3 * labels, 1)
    assert M.auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert M.auprc(scores, labels) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12
    )


def test_auroc_hand_computed():
    # positives scored 0.9 and 0.4; negatives 0.5, 0.1, 0.4 (a tie with a positive)
    # pairs (pos > neg): 0.9 beats all 3; 0.4 beats 0.1, ties 0.4 (1/2), loses to 0.5 -> 4.5 / 6
    scores = np.array([0.9, 0.4, 0.5, 0.1, 0.4])
    labels = np.array([1, 1, 0, 0, 0])
    assert M.auroc(scores, labels) == pytest.approx(4.5 / 6)


def test_one_class_gives_nan():
    assert math.isnan(M.auroc(np.ones(4), np.zeros(4)))
    assert math.isnan(M.auprc(np.ones(4), np.zeros(4)))
    assert math.isnan(M.auroc(np.ones(4), np.ones(4)))


def test_window_metrics_sensitivity_specificity():
    probs = np.array([0.9, 0.2, 0.6, 0.1])
    labels = np.array([1, 1, 0, 0])
    m = M.window_metrics(probs, labels, threshold=0.5)
    assert m["window_sensitivity"] == 0.5
    assert m["window_specificity"] == 0.5


def test_better_and_modes():
    assert M.metric_mode("val_loss") == "min"
    assert M.metric_mode("window_auroc") == "max"
    assert M.metric_mode("custom_loss") == "min"
    assert M.better(0.8, None, "max")
    assert not M.better(float("nan"), None, "max")
    assert M.better(0.8, 0.7, "max") and not M.better(0.7, 0.8, "max")
    assert M.better(0.1, 0.2, "min") and not M.better(0.19, 0.2, "min", min_delta=0.05)


def test_registered_hook_is_computed_and_known(monkeypatch):
    monkeypatch.setattr(M, "_HOOKS", {})

    def ovlp(result, config):
        return {"ovlp_sens_at_fa10": float(len(result.probabilities))}

    M.register_validation_metric("ovlp", ovlp, provides=("ovlp_sens_at_fa10",), mode="max")
    assert M.known_metrics()["ovlp_sens_at_fa10"] == "max"
    result = M.ValidationResult(
        probabilities={"a": np.array([0.9, 0.1], np.float32)},
        labels={"a": np.array([1, 0], np.uint8)},
        loss=0.3,
    )
    out = M.compute_validation_metrics(result, None)
    assert out["ovlp_sens_at_fa10"] == 1.0
    assert out["window_auroc"] == 1.0
    assert out["val_loss"] == 0.3
    with pytest.raises(ValueError, match="allowed 'max', 'min'"):
        M.register_validation_metric("bad", ovlp, mode="up")
