"""Sharpness under reparametrisation: a two-layer linear model and adaptive (ASAM) sharpness.

Dinh et al. (2017) observed that a network with positively homogeneous layers can be
rescaled, ``W1 -> alpha W1`` and ``W2 -> W2 / alpha``, without changing the function it
computes, while curvature-based sharpness (``lambda_max``, ``kappa_rho``) changes
arbitrarily.  Kwon et al. (2021, ASAM) proposed the *adaptive* sharpness

.. math::

    \\kappa^{A}_\\rho(w) = \\max_{\\lVert T_w^{-1} \\epsilon \\rVert_2 \\le \\rho}
        L(w + \\epsilon) - L(w), \\qquad T_w = \\operatorname{diag}(|w|),

which is invariant to every such element-wise rescaling: substituting
``epsilon = |w| * delta`` turns it into a maximum over ``||delta|| <= rho`` of
``L(w + |w| * delta)``, and for ``w' = A w`` with ``A`` diagonal and positive,
``A w + |A w| * delta = A (w + |w| * delta)`` while ``L o A = L``.

The model here is ``x -> W2 W1 x`` with the squared loss
``L(W1, W2) = ||X W1^T W2^T - Y||_F^2 / (2 n)``, parameters flattened as
``theta = concat(W1.ravel(), W2.ravel())``.

References
----------
L. Dinh, R. Pascanu, S. Bengio and Y. Bengio, "Sharp minima can generalize for deep nets", ICML 2017.
J. Kwon, J. Kim, H. Park and I. K. Choi, "ASAM: Adaptive sharpness-aware minimization for scale-invariant
learning of deep neural networks", ICML 2021, eq. 6 (adaptive sharpness).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validation import (
    check_callable,
    check_finite_array,
    check_int_at_least,
    check_nonnegative,
    check_positive,
    check_symmetric,
    describe,
)
from .sharpness import sharpness_pga

__all__ = [
    "TwoLayerLinear",
    "adaptive_sharpness",
    "adaptive_lambda_max",
]


@dataclass(frozen=True)
class TwoLayerLinear:
    """The squared loss of the two-layer linear model ``x -> W2 W1 x`` on data ``(X, Y)``.

    ``L(theta) = ||X W1^T W2^T - Y||_F^2 / (2 n)`` with ``W1`` of shape ``(hidden, d_in)``
    and ``W2`` of shape ``(d_out, hidden)``; ``theta`` is ``W1`` then ``W2``, flattened.

    Parameters
    ----------
    X : array of shape (n, d_in)
        Inputs.
    Y : array of shape (n, d_out)
        Targets.
    hidden : int
        Width of the hidden layer (>= 1).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> model = TwoLayerLinear(rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), hidden=4)
    >>> theta = rng.normal(size=model.num_params)
    >>> bool(np.isclose(model.loss(model.rescale(theta, 10.0)), model.loss(theta)))
    True
    """

    X: np.ndarray
    Y: np.ndarray
    hidden: int

    def __post_init__(self) -> None:
        X = check_finite_array(self.X, "X", ndim=2)
        Y = check_finite_array(self.Y, "Y", ndim=2)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X and Y must have the same number of rows, got {X.shape[0]} and {Y.shape[0]}")
        if X.shape[0] == 0:
            raise ValueError("X must hold at least one sample, got 0 rows")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "Y", Y)
        object.__setattr__(self, "hidden", check_int_at_least(self.hidden, 1, "hidden"))

    @property
    def d_in(self) -> int:
        return self.X.shape[1]

    @property
    def d_out(self) -> int:
        return self.Y.shape[1]

    @property
    def num_params(self) -> int:
        return self.hidden * (self.d_in + self.d_out)

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split a flat parameter vector into ``(W1, W2)``.

        Raises
        ------
        TypeError
            If ``theta`` does not hold real numbers.
        ValueError
            If ``theta`` is not a finite vector of :attr:`num_params` entries.
        """
        return self._unpack(theta, "theta")

    def _unpack(self, theta: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`unpack`, with errors naming the argument ``name`` (``theta``, or ``v`` of :meth:`hvp`)."""
        theta = check_finite_array(theta, name, ndim=1)
        if theta.shape[0] != self.num_params:
            raise ValueError(f"{name} must have {self.num_params} entries, got {theta.shape[0]}")
        k = self.hidden * self.d_in
        return theta[:k].reshape(self.hidden, self.d_in), theta[k:].reshape(self.d_out, self.hidden)

    def loss(self, theta: np.ndarray) -> float:
        """``||X W1^T W2^T - Y||_F^2 / (2 n)``."""
        W1, W2 = self.unpack(theta)
        R = self.X @ W1.T @ W2.T - self.Y
        return float(np.sum(R * R) / (2 * self.X.shape[0]))

    def grad(self, theta: np.ndarray) -> np.ndarray:
        """Gradient: ``dL/dW2 = R^T H / n`` and ``dL/dW1 = W2^T R^T X / n`` with ``H = X W1^T``."""
        W1, W2 = self.unpack(theta)
        H = self.X @ W1.T
        R = (H @ W2.T - self.Y) / self.X.shape[0]
        return np.concatenate([(W2.T @ R.T @ self.X).ravel(), (R.T @ H).ravel()])

    def hvp(self, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Exact Hessian-vector product: the derivative of :meth:`grad` along ``v``, in closed form.

        With ``(V1, V2)`` the blocks of ``v``, ``dH = X V1^T`` and ``dR = (dH W2^T + H V2^T) / n``, so
        ``d(dL/dW1) = (V2^T R^T + W2^T dR^T) X`` and ``d(dL/dW2) = dR^T H + R^T dH``.
        """
        W1, W2 = self.unpack(theta)
        V1, V2 = self._unpack(v, "v")
        n = self.X.shape[0]
        H = self.X @ W1.T
        R = (H @ W2.T - self.Y) / n
        dH = self.X @ V1.T
        dR = (dH @ W2.T + H @ V2.T) / n
        return np.concatenate([((V2.T @ R.T + W2.T @ dR.T) @ self.X).ravel(), (dR.T @ H + R.T @ dH).ravel()])

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        """Dense Hessian, exact: one :meth:`hvp` per coordinate vector (the loss is a quartic polynomial)."""
        H = np.stack([self.hvp(theta, e) for e in np.eye(self.num_params)], axis=1)
        return (H + H.T) / 2  # exact up to rounding; symmetrise the rounding away

    def rescale(self, theta: np.ndarray, alpha: float) -> np.ndarray:
        """Return the parameters of the same function with ``W1 -> alpha W1``, ``W2 -> W2 / alpha``.

        ``alpha`` may also be an array of ``hidden`` positive factors, one per hidden unit
        (row ``j`` of ``W1`` times ``alpha_j``, column ``j`` of ``W2`` divided by it).

        Raises
        ------
        TypeError
            If ``alpha`` is not a real number or an array of real numbers (a string, ``None``, a bool).
        ValueError
            If ``alpha`` is not positive and finite, has the wrong shape, or is so large or small that the
            rescaled parameters overflow a float.
        """
        W1, W2 = self.unpack(theta)
        if not isinstance(alpha, (list, tuple)) and np.ndim(alpha) == 0:
            a = np.full(self.hidden, check_positive(alpha, "alpha"))
        else:
            a = check_finite_array(alpha, "alpha")
            if a.shape != (self.hidden,) or np.any(a <= 0):
                raise ValueError(
                    f"alpha must be a positive scalar or {self.hidden} positive finite factors, got {describe(alpha)}"
                )
        with np.errstate(over="ignore"):
            out = np.concatenate([(a[:, None] * W1).ravel(), (W2 / a[None, :]).ravel()])
        if not np.all(np.isfinite(out)):
            raise ValueError(f"alpha = {describe(alpha)} makes the rescaled parameters overflow a float")
        return out


def adaptive_sharpness(
    f: Callable[[np.ndarray], float],
    grad_f: Callable[[np.ndarray], np.ndarray],
    theta: np.ndarray,
    rho: float,
    *,
    asam_offset: float = 0.0,
    **pga_kwargs,
) -> tuple[float, np.ndarray]:
    """Adaptive (ASAM) sharpness of Kwon et al. (2021, eq. 6), by projected gradient ascent.

    .. math::

        \\kappa^{A}_\\rho(\\theta) = \\max_{\\lVert T_\\theta^{-1}\\epsilon\\rVert_2 \\le \\rho}
            f(\\theta + \\epsilon) - f(\\theta), \\qquad T_\\theta = \\operatorname{diag}(|\\theta| + c),

    with :math:`c` = ``asam_offset``.  With ``epsilon = T delta`` this is the ordinary sharpness, at
    ``delta = 0``, of ``g(delta) = f(theta + T delta)``; it is computed by :func:`samlib.sharpness.sharpness_pga`
    on ``g`` and is therefore a lower bound.  With ``asam_offset = 0`` (the default) it is exactly
    invariant to positive element-wise rescalings that leave ``f`` unchanged; ASAM's
    ``asam_offset > 0`` keeps ``T`` invertible at zero weights at the price of that invariance.

    Parameters
    ----------
    f, grad_f : callables
        Value and gradient of the loss on a flat parameter vector.
    theta : array of shape (d,)
        Where to measure.
    rho : float
        Radius (>= 0) of the ball in the rescaled coordinates ``delta``.
    asam_offset : float, default 0
        The offset :math:`c \\ge 0` added to ``|theta|`` (the same name as in :class:`samlib.optim.SAM`).
    **pga_kwargs
        Passed to :func:`samlib.sharpness.sharpness_pga` (restarts, steps, seed, ...).

    Returns
    -------
    kappa : float
        The adaptive sharpness (a lower bound on the maximum).
    eps : array of shape (d,)
        The maximising perturbation in the original coordinates, ``T delta``.

    Raises
    ------
    ValueError
        If ``theta`` is not a finite vector, ``rho`` or ``asam_offset`` is negative or not finite, or on the
        conditions of :func:`samlib.sharpness.sharpness_pga`.
    TypeError
        If ``f`` or ``grad_f`` is not callable, an argument is of the wrong kind, or ``eta`` is given: the
        offset's old name, refused rather than handed on to ``sharpness_pga``.

    Examples
    --------
    For :math:`f(w) = \\tfrac12 \\lVert w\\rVert^2` at :math:`w = (1, 1)`, :math:`T = I` and
    :math:`\\kappa^A = \\max_{\\lVert\\delta\\rVert \\le \\rho} w^T\\delta + \\tfrac12\\lVert\\delta\\rVert^2
    = \\sqrt2\\,\\rho + \\rho^2/2`:

    >>> kappa, eps = adaptive_sharpness(lambda w: 0.5 * w @ w, lambda w: w, np.array([1.0, 1.0]), rho=0.1)
    >>> round(kappa, 10), round(float(np.sqrt(2) * 0.1 + 0.1**2 / 2), 10)
    (0.1464213562, 0.1464213562)
    """
    if "eta" in pga_kwargs:  # the old name of asam_offset; sharpness_pga would only say "unexpected keyword"
        raise TypeError("eta is not an argument of adaptive_sharpness: the ASAM offset is asam_offset")
    f = check_callable(f, "f")
    grad_f = check_callable(grad_f, "grad_f")
    theta = check_finite_array(theta, "theta", ndim=1)
    rho = check_nonnegative(rho, "rho")
    asam_offset = check_nonnegative(asam_offset, "asam_offset")
    T = np.abs(theta) + asam_offset

    def g(delta: np.ndarray) -> float:
        return f(theta + T * delta)

    def grad_g(delta: np.ndarray) -> np.ndarray:  # chain rule through epsilon = T delta
        return T * np.asarray(grad_f(theta + T * delta), dtype=float)

    kappa, delta = sharpness_pga(g, grad_g, np.zeros_like(theta), rho, **pga_kwargs)
    return kappa, T * delta


def adaptive_lambda_max(hessian: np.ndarray, theta: np.ndarray, asam_offset: float = 0.0) -> float:
    """Top eigenvalue of ``T H T`` with ``T = diag(|theta| + asam_offset)``: the second-order adaptive sharpness.

    .. math::

        \\lambda_{\\max}(T_\\theta H T_\\theta), \\qquad T_\\theta = \\operatorname{diag}(|\\theta| + c).

    Near a minimum ``kappa^A_rho ~ rho^2 lambda_max(T H T) / 2`` (the adaptive sharpness of Kwon et al. 2021,
    eq. 6, of the quadratic model, as :func:`samlib.sharpness.sharpness_quadratic` shows at ``g = 0``). Under a
    rescaling ``theta' = A theta`` that leaves the loss unchanged, ``H' = A^{-1} H A^{-1}`` and
    ``T' = A T``, so ``T' H' T' = T H T``: the value is invariant (for ``asam_offset = 0``; Dinh et al. 2017 show that
    the plain ``lambda_max(H)`` is not).

    Parameters
    ----------
    hessian : array_like, shape (d, d)
        Symmetric Hessian :math:`H` at ``theta`` (relative tolerance ``1e-8`` on the symmetry).
    theta : array_like, shape (d,)
        The parameters.
    asam_offset : float, default 0
        The offset :math:`c \\ge 0` added to :math:`|\\theta|` (as in :class:`samlib.optim.SAM`).

    Returns
    -------
    float
        :math:`\\lambda_{\\max}(T H T)`.

    Raises
    ------
    ValueError
        If ``hessian`` is not square, symmetric and finite, ``theta`` is not a finite vector of matching
        length, ``asam_offset`` is negative or not finite, or ``T H T`` overflows a float.

    Examples
    --------
    >>> adaptive_lambda_max(np.diag([4.0, 1.0]), np.array([0.5, 3.0]))  # max(0.25 * 4, 9 * 1)
    9.0
    """
    H = check_symmetric(hessian, "hessian", rtol=1e-8)
    theta = check_finite_array(theta, "theta", ndim=1)
    if H.shape[0] != theta.shape[0]:
        raise ValueError(f"hessian is {H.shape} but theta has {theta.shape[0]} entries")
    T = np.abs(theta) + check_nonnegative(asam_offset, "asam_offset")
    with np.errstate(over="ignore", invalid="ignore"):
        M = T[:, None] * H * T[None, :]
        finite = bool(np.all(np.isfinite(M + M.T)))
    if not finite:
        raise ValueError(
            f"T H T overflows a float for hessian (max |H_ij| = {float(np.max(np.abs(H))):.3g}) and theta "
            f"(max |theta_i| + asam_offset = {float(np.max(T)):.3g}): rescale them"
        )
    return float(np.linalg.eigvalsh((M + M.T) / 2)[-1])
