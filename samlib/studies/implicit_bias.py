"""Which sharpness SAM minimises: full-batch SAM versus 1-SAM on the 4D example of Wen, Ma & Li (2022).

The loss :math:`L(x) = F_1(x_1,x_2)\\,x_3^2 + F_2(x_1,x_2)\\,x_4^2` has the plane :math:`x_3 = x_4 = 0` as its set
of minimisers, with Hessian :math:`\\operatorname{diag}(0, 0, 2F_1, 2F_2)` there. Wen, Ma & Li (2022) prove that
near this manifold full-batch SAM (eq. 3 of the review) follows, on a slow time scale, the gradient flow of the
largest eigenvalue :math:`\\lambda_{\\max} = 2\\max(F_1,F_2)`, while 1-SAM (stochastic SAM with one example per
step, ascent and descent on the same example) follows that of the trace :math:`2(F_1+F_2)`. We write the loss as
the mean of two "examples"

.. math::

    L = \\tfrac12 (\\ell_1 + \\ell_2), \\qquad \\ell_1 = 2F_1 x_3^2, \\quad \\ell_2 = 2F_2 x_4^2,

so that 1-SAM samples one :math:`\\ell_i` per step. The default :math:`F_1 = 6 + (x_1-1)^2 + x_2^2`,
:math:`F_2 = 1 + (x_1+1)^2 + x_2^2` (our choice) has :math:`F_1 > F_2` for :math:`x_1 < 5/4`, so there
:math:`\\lambda_{\\max} = 2F_1`, minimised on the manifold at :math:`(x_1,x_2) = (1,0)`, while the trace is
minimised at :math:`(0,0)`: the two biases point to different places.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import sympy as sp

from samlib._validation import check_finite_array
from samlib.landscapes import Landscape, from_sympy, wen_ma_li_4d

__all__ = [
    "default_F1",
    "default_F2",
    "wen_ma_li_problem",
    "one_example_oracle",
    "manifold_sharpness",
    "LAMBDA_MAX_ARGMIN",
    "TRACE_ARGMIN",
]

#: Minimiser of :math:`\\lambda_{\\max} = 2F_1` on the manifold for the default :math:`F_1, F_2`.
LAMBDA_MAX_ARGMIN = np.array([1.0, 0.0])
#: Minimiser of the trace :math:`2(F_1+F_2)` on the manifold for the default :math:`F_1, F_2`.
TRACE_ARGMIN = np.array([0.0, 0.0])


def default_F1(x1: sp.Symbol, x2: sp.Symbol) -> sp.Expr:
    """:math:`F_1 = 6 + (x_1-1)^2 + x_2^2` (the top curvature for :math:`x_1 < 5/4`)."""
    return 6 + (x1 - 1) ** 2 + x2**2


def default_F2(x1: sp.Symbol, x2: sp.Symbol) -> sp.Expr:
    """:math:`F_2 = 1 + (x_1+1)^2 + x_2^2`."""
    return 1 + (x1 + 1) ** 2 + x2**2


def wen_ma_li_problem(
    F1: Callable[[sp.Symbol, sp.Symbol], sp.Expr] = default_F1,
    F2: Callable[[sp.Symbol, sp.Symbol], sp.Expr] = default_F2,
) -> tuple[Landscape, tuple[Landscape, Landscape]]:
    """The full loss and its two examples :math:`\\ell_1 = 2F_1x_3^2`, :math:`\\ell_2 = 2F_2x_4^2` (mean = loss).

    Parameters
    ----------
    F1, F2 : callable
        ``F(x1, x2)`` returning a sympy expression, smooth and positive.

    Returns
    -------
    (Landscape, (Landscape, Landscape))
        The loss from :func:`samlib.landscapes.wen_ma_li_4d` and the two examples.
    """
    full = wen_ma_li_4d(F1=F1, F2=F2)
    x1, x2, x3, x4 = sp.symbols("x1 x2 x3 x4", real=True)
    syms = (x1, x2, x3, x4)
    # from_sympy rejects unused variables only if they are *extra*; unused ones are fine (zero derivatives).
    ell1 = from_sympy("wen_ma_li_example_1", 2 * F1(x1, x2) * x3**2, syms,
                      description="2 F1(x1,x2) x3^2: first example of the Wen-Ma-Li loss")
    ell2 = from_sympy("wen_ma_li_example_2", 2 * F2(x1, x2) * x4**2, syms,
                      description="2 F2(x1,x2) x4^2: second example of the Wen-Ma-Li loss")
    return full, (ell1, ell2)


def one_example_oracle(examples: tuple[Landscape, ...]) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """Gradient oracle of 1-SAM: the gradient of one example drawn uniformly with ``rng``.

    Unbiased for the mean loss. Use it with :func:`samlib.ascent.run_stochastic_trajectory` and
    ``same_noise=True`` so that the ascent and the descent gradient of a step come from the same example
    (1-SAM in the sense of Wen, Ma & Li 2022; Foret et al. 2021's m-sharpness with m = 1).
    """
    if not examples:
        raise ValueError("examples must not be empty")
    k = len(examples)

    def oracle(theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return examples[int(rng.integers(k))].grad(theta)

    return oracle


def manifold_sharpness(loss: Landscape, points: Any) -> dict[str, np.ndarray]:
    """Largest eigenvalue and trace of the Hessian of ``loss`` at the points :math:`(x_1, x_2, 0, 0)`.

    Parameters
    ----------
    loss : Landscape
        A 4D landscape (e.g. the first output of :func:`wen_ma_li_problem`).
    points : array_like, shape (..., 2)
        Coordinates :math:`(x_1, x_2)` on the manifold.

    Returns
    -------
    dict with ``"lambda_max"`` and ``"trace"``, arrays of shape (...).
    """
    p = check_finite_array(points, "points")
    if p.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., 2), got {p.shape}")
    theta = np.concatenate([p, np.zeros(p.shape[:-1] + (2,))], axis=-1)
    H = loss.hessian(theta)
    return {"lambda_max": np.linalg.eigvalsh(H)[..., -1], "trace": np.trace(H, axis1=-2, axis2=-1)}
