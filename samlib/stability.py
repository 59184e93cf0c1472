"""Edges of stability: gradient descent's :math:`2/\\eta` and the SAM edge of Long & Bartlett (2024).

On a quadratic with Hessian :math:`H`, one GD step multiplies the component along an eigenvector of
eigenvalue :math:`\\lambda` by :math:`1 - \\eta\\lambda`, which grows in modulus once :math:`\\lambda > 2/\\eta`:
the *edge of stability* of GD (Cohen et al. 2021). For SAM with the normalised perturbation
:math:`\\hat\\epsilon = \\rho g/\\lVert g\\rVert` the perturbed gradient is :math:`g + \\rho H g/\\lVert g\\rVert`,
so, holding :math:`\\lVert g\\rVert` fixed for one step, the factor is :math:`1 - \\eta\\lambda(1 +
\\rho\\lambda/\\lVert g\\rVert)`, which exceeds 1 in modulus once
:math:`\\rho\\lambda^2/\\lVert g\\rVert + \\lambda > 2/\\eta`. The positive root of that quadratic is the
*SAM edge*

.. math::

    \\lambda_{\\mathrm{SAM}}(\\lVert g\\rVert; \\eta, \\rho)
    = \\frac{\\lVert g\\rVert}{2\\rho}\\Bigl(\\sqrt{1 + \\frac{8\\rho}{\\eta\\lVert g\\rVert}} - 1\\Bigr)
    < \\frac{2}{\\eta},

which tends to :math:`2/\\eta` as :math:`\\rho/\\lVert g\\rVert \\to 0` and to
:math:`\\sqrt{2\\lVert g\\rVert/(\\eta\\rho)}` as :math:`\\rho/\\lVert g\\rVert \\to \\infty`.

References
----------
P. M. Long and P. L. Bartlett, "Sharpness-aware minimization and the edge of stability", JMLR 2024
(arXiv:2309.12488). J. Cohen et al., "Gradient descent on neural networks typically occurs at the edge of
stability", ICLR 2021.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from samlib._validation import check_finite_array, check_nonnegative, check_positive

__all__ = ["gd_edge", "sam_edge"]


def gd_edge(lr: float) -> float:
    """Gradient descent's edge of stability :math:`2/\\eta`.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\\eta > 0`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``lr`` is not positive and finite.
    TypeError
        If ``lr`` is not a real number.

    Examples
    --------
    >>> gd_edge(0.5)
    4.0
    """
    return 2.0 / check_positive(lr, "lr")


def sam_edge(grad_norm: Any, lr: float, rho: float) -> Any:
    """The SAM edge :math:`\\frac{\\lVert g\\rVert}{2\\rho}(\\sqrt{1 + 8\\rho/(\\eta\\lVert g\\rVert)} - 1)`.

    Long & Bartlett (2024, arXiv:2309.12488): the largest Hessian eigenvalue along which one step of
    normalised SAM on a quadratic does not amplify, for gradient norm :math:`\\lVert g\\rVert` (module
    docstring). Evaluated in the algebraically equal form
    :math:`4/(\\eta(1 + \\sqrt{1 + 8\\rho/(\\eta\\lVert g\\rVert)}))`, which has no cancellation for small
    :math:`\\rho/\\lVert g\\rVert`.

    Parameters
    ----------
    grad_norm : float or array_like
        Gradient norms :math:`\\lVert g\\rVert \\ge 0`.
    lr : float
        Learning rate :math:`\\eta > 0`.
    rho : float
        Radius :math:`\\rho \\ge 0`; ``rho = 0`` gives :math:`2/\\eta`.

    Returns
    -------
    float or ndarray
        The edge, of the shape of ``grad_norm``. It is :math:`2/\\eta` for :math:`\\rho = 0` and 0 at a zero
        gradient with :math:`\\rho > 0` (the limit; SAM's perturbation is then zero by the book's convention,
        but the formula's limit is what the edge means there), never NaN.

    Raises
    ------
    ValueError
        If ``lr`` is not positive, ``rho`` is negative, or ``grad_norm`` has negative or non-finite entries.
    TypeError
        If an argument is not a real number.

    Examples
    --------
    >>> round(float(sam_edge(1.0, lr=0.1, rho=0.05)), 6)  # (1/0.1)(sqrt(1 + 4) - 1) = 12.36...
    12.36068
    >>> float(sam_edge(1.0, lr=0.1, rho=0.0))
    20.0
    """
    lr = check_positive(lr, "lr")
    rho = check_nonnegative(rho, "rho")
    g = check_finite_array(grad_norm, "grad_norm")
    if np.any(g < 0):
        raise ValueError("grad_norm must be non-negative")
    scalar = g.ndim == 0
    g = np.atleast_1d(g).astype(float)
    out = np.zeros_like(g)
    pos = g > 0
    if rho == 0:
        out[:] = 2.0 / lr
    else:
        out[pos] = 4.0 / (lr * (1.0 + np.sqrt(1.0 + 8.0 * rho / (lr * g[pos]))))
    return float(out[0]) if scalar else out
