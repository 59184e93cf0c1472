"""Part II, §3.6: how SAM's perturbation reweights examples in logistic regression (Baek et al. 2024).

For binary logistic regression with labels :math:`y_i \\in \\{-1, 1\\}` the loss of example
:math:`i` is :math:`\\ell_i(w) = \\log(1 + e^{-m_i})` with margin :math:`m_i = y_i w^\\top x_i`, and its
gradient is :math:`\\nabla\\ell_i = -\\sigma(-m_i)\\, y_i x_i`: a fixed direction :math:`-y_i x_i` (the
"Jacobian" part) times a *logit weight* :math:`s_i(w) = \\sigma(-m_i)`. SAM evaluates the gradient at a
perturbed point, which for a linear model changes only the weight:

* **1-SAM** (each example perturbed along its own gradient, :math:`\\hat\\varepsilon_i =
  \\rho\\nabla\\ell_i/\\lVert\\nabla\\ell_i\\rVert = -\\rho y_i x_i/\\lVert x_i\\rVert`):
  :math:`s_i^{\\rm SAM} = \\sigma(-m_i + \\rho\\lVert x_i\\rVert)`;
* **n-SAM** (one perturbation :math:`\\hat\\varepsilon = \\rho\\nabla L/\\lVert\\nabla L\\rVert` for the
  whole batch): :math:`s_i^{\\rm SAM} = \\sigma(-m_i - y_i\\hat\\varepsilon^\\top x_i)`.

Baek, Kolter & Raghunathan (ICLR 2024) show that SAM thereby up-weights the gradient contribution of
clean examples relative to mislabelled ones. The perturbations here use
:func:`samlib.ascent.ascent_scale` / :func:`samlib.ascent.ascent_direction` (a zero gradient gives
:math:`\\hat\\varepsilon = 0`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import expit

from samlib._validation import check_int_at_least, check_nonnegative, check_positive
from samlib.ascent import ascent_direction, ascent_scale

__all__ = ["logit_weights", "sam_logit_weights", "logistic_loss_grad", "gaussian_mixture",
           "train_logistic", "reweighting_along_training"]


def _check_xyw(w: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.asarray(w, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-d (n, d), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("y must hold labels -1 and 1")
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},), got {w.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(w))):
        raise ValueError("X and w must be finite")
    return w, X, y


def logit_weights(w: Any, X: Any, y: Any) -> np.ndarray:
    """The logit weights :math:`s_i(w) = \\sigma(-y_i w^\\top x_i)` of the logistic-loss gradient.

    :math:`\\nabla\\ell_i(w) = -s_i(w)\\,y_i x_i`, so :math:`s_i` is how much example :math:`i` contributes.

    Parameters
    ----------
    w : array (d,)
    X : array (n, d)
    y : array (n,) of -1 and 1

    Returns
    -------
    numpy.ndarray (n,)

    Raises
    ------
    ValueError
        Shapes disagree, labels other than -1 and 1, non-finite input.
    """
    w, X, y = _check_xyw(w, X, y)
    return expit(-y * (X @ w))


def logistic_loss_grad(w: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-example losses :math:`\\log(1+e^{-m_i})` (n,) and gradients :math:`-s_i y_i x_i` (n, d)."""
    w, X, y = _check_xyw(w, X, y)
    m = y * (X @ w)
    return np.logaddexp(0.0, -m), -(expit(-m) * y)[:, None] * X


def sam_logit_weights(w: Any, X: Any, y: Any, rho: float, per_example: bool = True) -> np.ndarray:
    """The logit weights at SAM's perturbed point(s) (Baek, Kolter & Raghunathan 2024, §3).

    .. math::

        s_i^{\\rm SAM} = \\sigma\\bigl(-y_i (w + \\hat\\varepsilon_i)^\\top x_i\\bigr), \\qquad
        \\hat\\varepsilon_i = \\rho\\,\\frac{\\nabla\\ell_i(w)}{\\lVert\\nabla\\ell_i(w)\\rVert}
        \\ (\\text{1-SAM}) \\quad\\text{or}\\quad
        \\hat\\varepsilon = \\rho\\,\\frac{\\nabla L(w)}{\\lVert\\nabla L(w)\\rVert}\\ (\\text{n-SAM}),

    with :math:`L = \\frac1n\\sum_i\\ell_i` and :math:`\\hat\\varepsilon = 0` where the gradient is 0.

    Parameters
    ----------
    w, X, y : as :func:`logit_weights`
    rho : float
        Radius, finite and >= 0 (``0`` gives :func:`logit_weights`).
    per_example : bool
        1-SAM (True) or n-SAM (False).

    Returns
    -------
    numpy.ndarray (n,)
    """
    rho = check_nonnegative(rho, "rho")
    if not isinstance(per_example, bool):
        raise TypeError(f"per_example must be a bool, got {type(per_example).__name__}")
    w, X, y = _check_xyw(w, X, y)
    _, G = logistic_loss_grad(w, X, y)
    if per_example:
        eps = ascent_scale(np.linalg.norm(G, axis=1), rho)[:, None] * G  # (n, d), row by row
        return expit(-y * np.einsum("ij,ij->i", X, w[None, :] + eps))
    eps = ascent_direction(G.mean(axis=0), rho)
    return expit(-y * (X @ (w + eps)))


def gaussian_mixture(n: int, d: int, separation: float, noise: float, seed: int = 0,
                     unit_norm: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two Gaussian classes :math:`x = y\\mu + z`, :math:`z \\sim N(0, I_d)`, :math:`\\lVert\\mu\\rVert` =
    ``separation``; a fraction ``noise`` of the labels flipped.

    Returns ``X`` (n, d) (rows scaled to norm 1 if ``unit_norm``, so that 1-SAM shifts every margin
    by the same :math:`\\rho`), the observed labels and a boolean mask of the flipped examples.
    """
    n = check_int_at_least(n, 2, "n")
    d = check_int_at_least(d, 1, "d")
    separation = check_positive(separation, "separation")
    noise = check_nonnegative(noise, "noise")
    if noise >= 0.5:
        raise ValueError(f"noise must be < 0.5, got {noise}")
    rng = np.random.default_rng(seed)
    y = rng.choice([-1.0, 1.0], size=n)
    mu = np.zeros(d)
    mu[0] = separation
    X = y[:, None] * mu + rng.standard_normal((n, d))
    if unit_norm:
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    flipped = np.zeros(n, dtype=bool)
    flipped[rng.choice(n, size=int(round(noise * n)), replace=False)] = True
    return X, np.where(flipped, -y, y), flipped


def train_logistic(X: Any, y: Any, lr: float, rho: float, num_steps: int,
                   checkpoints: Sequence[int]) -> dict[int, np.ndarray]:
    """Full-batch SAM (n-SAM; ``rho = 0`` is gradient descent) on the logistic loss from
    :math:`w = 0`; the iterates at ``checkpoints``."""
    lr = check_positive(lr, "lr")
    rho = check_nonnegative(rho, "rho")
    num_steps = check_int_at_least(num_steps, 1, "num_steps")
    X = np.asarray(X, dtype=float)
    w = np.zeros(X.shape[1])
    keep = {int(t) for t in checkpoints}
    out = {}
    for t in range(num_steps + 1):
        if t in keep:
            out[t] = w.copy()
        if t == num_steps:
            break
        _, G = logistic_loss_grad(w, X, y)
        eps = ascent_direction(G.mean(axis=0), rho)
        _, Gp = logistic_loss_grad(w + eps, X, y)
        w = w - lr * Gp.mean(axis=0)
    return out


def reweighting_along_training(X: Any, y: Any, flipped: Any, iterates: dict[int, np.ndarray],
                               rho: float) -> dict[str, np.ndarray]:
    """At each iterate: the clean-over-mislabelled up-weighting of 1-SAM and n-SAM, and more.

    The up-weighting is
    :math:`U = \\dfrac{\\bar s^{\\rm SAM}_{\\rm clean}/\\bar s^{\\rm SAM}_{\\rm noisy}}
    {\\bar s_{\\rm clean}/\\bar s_{\\rm noisy}}` (bars: means over the group): :math:`U > 1` means SAM
    shifts gradient weight from the mislabelled to the clean examples. Also returned: Kendall's
    :math:`\\tau` between each example's relative weight :math:`s^{\\rm SAM}_i/s_i` (1-SAM) and its loss,
    and the mean losses of the two groups.
    """
    from scipy.stats import kendalltau

    flipped = np.asarray(flipped, dtype=bool)
    rows = {k: [] for k in ("step", "U_one", "U_batch", "tau_one", "loss_clean", "loss_noisy")}
    for t in sorted(iterates):
        w = iterates[t]
        s = logit_weights(w, X, y)
        loss, _ = logistic_loss_grad(w, X, y)
        one = sam_logit_weights(w, X, y, rho, per_example=True)
        batch = sam_logit_weights(w, X, y, rho, per_example=False)
        base = s[~flipped].mean() / s[flipped].mean()
        rows["step"].append(t)
        rows["U_one"].append(one[~flipped].mean() / one[flipped].mean() / base)
        rows["U_batch"].append(batch[~flipped].mean() / batch[flipped].mean() / base)
        rows["tau_one"].append(kendalltau(one / s, loss).statistic)
        rows["loss_clean"].append(loss[~flipped].mean())
        rows["loss_noisy"].append(loss[flipped].mean())
    return {k: np.asarray(v, dtype=float) for k, v in rows.items()}
