"""Linear Model Trainer: ordinary least squares or logistic regression with numpy.

* ``linear``: least squares through ``numpy.linalg.lstsq`` (with ``l2`` > 0: ridge, the
  intercept not penalised); standard errors from ``sigma^2 (X'X)^-1``; metrics r2, adj_r2,
  rmse, mae.
* ``logistic``: Newton-Raphson (IRLS) on the log-likelihood, optionally L2-penalised, until the
  largest coefficient step is below ``tol``; standard errors from the inverse Hessian; metrics
  accuracy (threshold 0.5), log_loss, auc (Mann-Whitney), iterations.

``model = "auto"`` (default) picks logistic for a target with exactly two values (booleans,
0/1, two labels: the second in sorted order is the positive class), linear otherwise.
Rows with a missing target or feature are left out with a warning.

Result (model_training contract): ``data`` is the coefficient table (term, estimate,
std_error, statistic), ``metadata.metrics`` the training metrics, ``metadata.coefficients``
``{term: estimate}`` for scoring elsewhere.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

MODELS = ("auto", "linear", "logistic")


class LinearModelTrainer:
    """The plugin: ``execute`` fits the model the parameters ask for."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.plugin_id = context.get("plugin_id", "linear_model_trainer")
        self.config = context.get("config", {}) or {}

    def execute(self, input_data: dict[str, Any]) -> dict[str, Any]:
        settings = {**self.config, **(input_data.get("config") or {}),
                    **(input_data.get("parameters") or {})}  # fmt: skip
        frame = input_data.get("data")
        if not isinstance(frame, pd.DataFrame):
            raise ValueError("no input data: send the training table")
        target = settings.get("target")
        if target not in frame.columns:
            raise ValueError(f"parameter target must name a column (got {target!r})")
        features = settings.get("features") or [
            c for c in frame.columns if c != target and _is_number(frame[c])
        ]
        unknown = [str(c) for c in features if c not in frame.columns]
        if unknown:
            raise ValueError(f"unknown feature column(s): {', '.join(unknown)}")
        not_numeric = [str(c) for c in features if not _is_number(frame[c])]
        if not_numeric:
            raise ValueError(
                f"feature column(s) not numeric: {', '.join(not_numeric)} "
                "(one-hot encode them first, e.g. with feature_builder)"
            )
        model = str(settings.get("model", "auto"))
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
        warnings: list[str] = []
        rows = frame[[*features, target]].dropna()
        if len(rows) < len(frame):
            warnings.append(f"{len(frame) - len(rows)} row(s) with missing values left out")
        x = np.column_stack([np.ones(len(rows)), rows[features].to_numpy(dtype=float)])
        terms = ["intercept", *map(str, features)]
        if len(rows) <= len(terms):
            raise ValueError(f"{len(rows)} complete row(s) are too few for {len(terms)} coefficients")
        y_raw = rows[target]
        labels = sorted(pd.unique(y_raw).tolist(), key=str)
        if model == "auto":
            model = "logistic" if len(labels) == 2 else "linear"
        l2 = float(settings.get("l2", 0.0))
        if l2 < 0:
            raise ValueError("l2 must be zero or positive")
        if model == "linear":
            if not _is_number(y_raw):
                raise ValueError(f"target {target!r} is not numeric; use model logistic")
            fit = _least_squares(x, y_raw.to_numpy(dtype=float), l2)
            extra: dict[str, Any] = {}
        else:
            if len(labels) != 2:
                raise ValueError(f"logistic regression needs a target with two values, {target!r} has {len(labels)}")
            y = (y_raw == labels[1]).to_numpy(dtype=float)
            fit = _logistic(x, y, l2, int(settings.get("max_iter", 100)), float(settings.get("tol", 1e-8)))
            if not fit["converged"]:
                warnings.append(f"logistic regression did not converge in {fit['metrics']['iterations']} iterations")
            if fit["separated"]:
                warnings.append("the classes are (nearly) separable: estimates grow without bound; set l2 > 0")
            extra = {"positive_class": labels[1], "negative_class": labels[0]}
        table = pd.DataFrame({"term": terms, "estimate": fit["beta"], "std_error": fit["se"],
                              "statistic": fit["beta"] / fit["se"]})  # fmt: skip
        return {
            "data": table,
            "metadata": {
                "plugin_id": self.plugin_id,
                "model": model,
                "target": str(target),
                "features": [str(f) for f in features],
                "l2": l2,
                "metrics": fit["metrics"],
                "coefficients": dict(zip(terms, map(float, fit["beta"]), strict=True)),
                **extra,
            },
            "logs": [f"{model} regression of {target} on {len(features)} feature(s), {len(rows)} row(s)"],
            "warnings": warnings,
            "errors": [],
        }


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _penalty(k: int, l2: float) -> np.ndarray:
    penalty = np.eye(k) * l2
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    return penalty


def _least_squares(x: np.ndarray, y: np.ndarray, l2: float) -> dict[str, Any]:
    n, k = x.shape
    if l2:
        beta = np.linalg.solve(x.T @ x + _penalty(k, l2), x.T @ y)
    else:
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ beta
    sse = float(residuals @ residuals)
    sst = float(((y - y.mean()) ** 2).sum())
    sigma2 = sse / (n - k)
    se = np.sqrt(np.diag(sigma2 * np.linalg.pinv(x.T @ x + _penalty(k, l2))))
    r2 = 1 - sse / sst if sst > 0 else None
    metrics = {
        "r2": r2,
        "adj_r2": 1 - (1 - r2) * (n - 1) / (n - k) if r2 is not None else None,
        "rmse": math.sqrt(sse / n),
        "mae": float(np.abs(residuals).mean()),
        "n": n,
    }
    return {"beta": beta, "se": se, "metrics": metrics}


def _logistic(x: np.ndarray, y: np.ndarray, l2: float, max_iter: int, tol: float) -> dict[str, Any]:
    n, k = x.shape
    beta = np.zeros(k)
    penalty = _penalty(k, l2)
    converged, iterations = False, 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 (the count is reported)
        p = 1 / (1 + np.exp(-np.clip(x @ beta, -35, 35)))
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.lstsq(hessian, x.T @ (y - p) - penalty @ beta, rcond=None)[0]
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    p = 1 / (1 + np.exp(-np.clip(x @ beta, -35, 35)))
    hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty
    se = np.sqrt(np.abs(np.diag(np.linalg.pinv(hessian))))
    eps = 1e-15
    clipped = np.clip(p, eps, 1 - eps)
    metrics = {
        "accuracy": float(((p >= 0.5) == (y == 1)).mean()),
        "log_loss": float(-(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)).mean()),
        "auc": _auc(y, p),
        "iterations": iterations,
        "n": n,
    }
    return {"beta": beta, "se": se, "metrics": metrics, "converged": converged,
            "separated": bool(np.max(np.abs(beta)) > 30)}  # fmt: skip


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve: the Mann-Whitney U of the positive scores, ties averaged."""
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if not positives or not negatives:
        return None
    ranks = pd.Series(score).rank().to_numpy()
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))
