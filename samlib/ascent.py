"""Ascent directions, SAM and GD steps, and deterministic or stochastic trajectories.

The SAM update of (Foret et al. 2021) (eq. 3 of the review (Liu, Chen & Shi 2022)) is

.. math::

    \\theta_{t+1} = \\theta_t - \\eta_t\\, \\nabla f\\bigl(\\theta_t + \\hat\\epsilon(\\nabla f(\\theta_t))\\bigr),
    \\qquad \\hat\\epsilon(g) = \\rho\\, \\frac{g}{\\lVert g \\rVert_2},

with learning rate :math:`\\eta_t` (``lr`` in the code) and radius :math:`\\rho`, where :math:`\\hat\\epsilon`
maximises the first-order model :math:`f(\\theta) + \\epsilon^T g` over the ball
:math:`\\lVert \\epsilon \\rVert \\le \\rho`. For a general :math:`\\ell_p` ball the maximiser is the dual-norm
direction of :func:`ascent_direction` (Foret et al. 2021, eq. 2).

Zero gradient. The review remarks right after its eq. 3 that the update is undefined when
:math:`\\nabla f(\\theta) = 0` because the gradient norm is in the denominator. We define
:math:`\\hat\\epsilon(0) = 0`, so the SAM step at a stationary point is the GD step (which does not move). Reasons:
every :math:`\\epsilon` with :math:`\\lVert\\epsilon\\rVert \\le \\rho` maximises the first-order model
:math:`\\epsilon^T 0 = 0`, so the choice is free; :math:`\\epsilon = 0` is the only choice that does not depend on
an arbitrary direction; it is what the reference implementation does in effect (it divides by
:math:`\\lVert g\\rVert + 10^{-12}`); and it keeps every stationary point of :math:`f` a fixed point of SAM.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Union

import numpy as np

from samlib._validation import (
    check_finite_array,
    check_int_at_least,
    check_nonnegative,
    check_p_norm,
    describe,
    is_torch,
)

__all__ = [
    "ascent_direction",
    "ascent_scale",
    "sam_step",
    "gd_step",
    "Trajectory",
    "run_trajectory",
    "run_stochastic_trajectory",
]

#: A constant, or a schedule ``t -> value`` evaluated at the step index ``t = 0, 1, ...`` (a learning rate or a
#: radius of :func:`run_trajectory`). Not :data:`samlib.studies.convergence.DecayRule`, which names a decay law.
ValueOrSchedule = Union[float, Callable[[int], float]]


def _dual_exponent(p: float) -> float:
    """Return q with 1/p + 1/q = 1 (q = inf for p = 1, q = 1 for p = inf)."""
    if p == 1:
        return math.inf
    if math.isinf(p):
        return 1.0
    return p / (p - 1.0)


def ascent_direction(grad: Any, rho: float, p: float = 2) -> Any:
    """Maximiser of the first-order model over the :math:`\\ell_p` ball of radius ``rho``.

    .. math::

        \\hat\\epsilon(g) = \\arg\\max_{\\lVert\\epsilon\\rVert_p \\le \\rho} \\epsilon^T g
        = \\rho\\, \\frac{\\operatorname{sign}(g)\\, |g|^{q-1}}{\\lVert g\\rVert_q^{q-1}},
        \\qquad \\frac1p + \\frac1q = 1,

    so that :math:`\\hat\\epsilon^T g = \\rho \\lVert g\\rVert_q` (Hölder's inequality with equality;
    Foret et al. 2021, eq. 2). Special cases: ``p = 2`` gives :math:`\\rho g/\\lVert g\\rVert_2` (eq. 3 of the
    review); ``p = inf`` gives :math:`\\rho\\,\\operatorname{sign}(g)`; ``p = 1`` puts all the mass
    :math:`\\rho\\,\\operatorname{sign}(g_i)` on the first coordinate ``i`` of largest :math:`|g_i|`.

    Parameters
    ----------
    grad : array_like or torch.Tensor
        The gradient :math:`g`, any shape and memory layout (the norms are taken over all entries). Integer
        input is promoted to floating point: numpy input to ``float64`` (as every numpy input is), torch input
        to ``torch.get_default_dtype()``, since a direction of norm ``rho`` cannot be stored in integers.
    rho : float
        Radius :math:`\\rho \\ge 0` of the ball.
    p : float, default 2
        The norm of the ball, :math:`1 \\le p \\le \\infty` (``math.inf`` or ``np.inf``).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        :math:`\\hat\\epsilon`, same shape and type as ``grad`` (torch: same device, and the same dtype unless
        ``grad`` holds integers, see above). A zero gradient
        gives the zero vector: the maximiser is then not unique and we choose :math:`\\epsilon = 0`
        (see the module docstring).

    Raises
    ------
    TypeError
        If ``rho`` or ``p`` is not a real number (a string, a bool, ``None``), or ``grad`` does not hold real
        numbers (bools, complex numbers, strings).
    ValueError
        If ``rho`` is negative or not finite, ``p < 1``, or ``grad`` has non-finite entries.

    Examples
    --------
    >>> ascent_direction(np.array([3.0, 4.0]), rho=0.5)
    array([0.3, 0.4])
    >>> ascent_direction(np.array([3.0, -4.0]), rho=1.0, p=1)
    array([ 0., -1.])
    """
    rho = check_nonnegative(rho, "rho")
    p = check_p_norm(p, "p")
    g = check_finite_array(grad, "grad")
    if is_torch(g):
        return _ascent_direction_torch(g, rho, p)
    scale = float(np.max(np.abs(g))) if g.size else 0.0
    if scale == 0.0 or rho == 0.0:
        return np.zeros_like(g)
    if math.isinf(p):
        return rho * np.sign(g)
    if p == 1:
        eps = np.zeros_like(g)
        i = int(np.argmax(np.abs(g)))  # argmax returns the first index of the maximum
        eps.flat[i] = rho * np.sign(g.flat[i])
        return eps
    q = _dual_exponent(p)
    # The formula is homogeneous of degree 0 in g: normalising by max|g| first avoids overflow of |g|^(q-1)
    # for large q (p close to 1) and underflow for tiny gradients.
    a = np.abs(g) / scale
    w = a ** (q - 1.0)
    norm_q = np.sum(a**q) ** (1.0 / q)
    return rho * np.sign(g) * w / norm_q ** (q - 1.0)


def ascent_scale(norm: Any, rho: Any) -> Any:
    """The factor :math:`c = \\rho/\\lVert g\\rVert` of :math:`\\hat\\epsilon = c\\,g`, row by row, with the book's zero rule.

    .. math::

        c(\\lVert g\\rVert, \\rho) = \\begin{cases} \\rho / \\lVert g\\rVert & \\lVert g\\rVert > 0 \\\\
        0 & \\lVert g\\rVert = 0 \\end{cases}

    This is the Euclidean case of :func:`ascent_direction` written for kernels that already hold the gradient
    norm (the batched trainers compute it from Gram matrices, never forming :math:`g`): one rule for
    :math:`\\hat\\epsilon(0) = 0` (module docstring), shared by every such kernel instead of a ``+ 1e-12`` guard
    in the denominator (which is a different direction whenever :math:`\\lVert g\\rVert` is not large against
    it). The tests hold the kernels to :func:`ascent_direction` row by row, a zero row included.

    Parameters
    ----------
    norm : numpy.ndarray or torch.Tensor
        Non-negative gradient norms, any shape (one per row of a batch of runs, say).
    rho : float or array broadcasting against ``norm``
        Radii :math:`\\rho \\ge 0`.

    Returns
    -------
    same type as ``norm``
        :math:`c`, broadcast shape of ``norm`` and ``rho``; exactly 0 where ``norm`` is 0.

    Examples
    --------
    >>> ascent_scale(np.array([2.0, 0.0]), 0.5)
    array([0.25, 0.  ])
    """
    if is_torch(norm):
        import torch

        safe = torch.where(norm > 0, norm, torch.ones_like(norm))
        return torch.where(norm > 0, rho / safe, torch.zeros_like(safe * rho))
    norm = np.asarray(norm, dtype=float)
    safe = np.where(norm > 0, norm, 1.0)
    return np.where(norm > 0, np.asarray(rho, dtype=float) / safe, 0.0)


def _ascent_direction_torch(g: Any, rho: float, p: float) -> Any:
    import torch

    if not g.is_floating_point():
        # integer tensors: the result has norm rho, which integers cannot hold (torch.zeros_like would give 0)
        g = g.to(torch.get_default_dtype())
    with torch.no_grad():
        scale = g.abs().max() if g.numel() else torch.zeros((), dtype=g.dtype, device=g.device)
        if g.numel() == 0 or float(scale) == 0.0 or rho == 0.0:
            return torch.zeros_like(g)
        if math.isinf(p):
            return rho * torch.sign(g)
        if p == 1:
            eps = torch.zeros_like(g)
            flat = g.reshape(-1)
            i = int(torch.argmax(flat.abs()))  # first index of the maximum, in C order
            # index by coordinates, not through eps.view(-1): zeros_like keeps the strides of a transposed
            # (non-contiguous) grad, and such a tensor has no flat view
            eps[np.unravel_index(i, tuple(g.shape))] = rho * torch.sign(flat[i])
            return eps
        q = _dual_exponent(p)
        a = g.abs() / scale
        norm_q = (a**q).sum() ** (1.0 / q)
        return rho * torch.sign(g) * a ** (q - 1.0) / norm_q ** (q - 1.0)


def _as_theta(theta: Any, name: str = "theta") -> Any:
    """Validated parameter vector; a scalar becomes shape ``(1,)``; torch tensors pass unchanged."""
    t = check_finite_array(theta, name)
    if not is_torch(t) and t.ndim == 0:
        t = t.reshape(1)
    return t


def _check_callable(fn: Any, name: str) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {describe(fn)}")


def _checked_grad(grad_f: Callable[[Any], Any], point: Any, where: str) -> Any:
    g = check_finite_array(grad_f(point), f"grad_f({where})")
    if tuple(g.shape) != tuple(point.shape):
        raise ValueError(
            f"grad_f returned shape {tuple(g.shape)} at {where}, expected the shape of theta {tuple(point.shape)}"
        )
    return g


def gd_step(theta: Any, grad_f: Callable[[Any], Any], lr: float) -> Any:
    """One gradient-descent step :math:`\\theta - \\eta \\nabla f(\\theta)` (eq. 4 of the review).

    Parameters
    ----------
    theta : array_like, shape (d,)
        Current point (a scalar is treated as shape ``(1,)``).
    grad_f : callable
        ``grad_f(theta)`` returns :math:`\\nabla f(\\theta)` with the shape of ``theta``.
    lr : float
        Learning rate :math:`\\eta \\ge 0`.

    Raises
    ------
    TypeError
        If ``grad_f`` is not callable, ``lr`` is not a real number, or ``theta`` or the gradient does not hold
        real numbers.
    ValueError
        If ``lr`` is negative or not finite, ``theta`` or the gradient is not finite, or shapes differ.
    """
    lr = check_nonnegative(lr, "lr")
    _check_callable(grad_f, "grad_f")
    theta = _as_theta(theta)
    return theta - lr * _checked_grad(grad_f, theta, "theta")


def sam_step(theta: Any, grad_f: Callable[[Any], Any], lr: float, rho: float, p: float = 2) -> Any:
    """One SAM step :math:`\\theta - \\eta\\, \\nabla f(\\theta + \\hat\\epsilon(\\nabla f(\\theta)))`.

    Eq. 3 of the review (Liu, Chen & Shi 2022) (Foret et al. 2021, Algorithm 1 with the :math:`\\ell_p` ascent
    direction of :func:`ascent_direction`).

    Parameters
    ----------
    theta : array_like, shape (d,)
        Current point (a scalar is treated as shape ``(1,)``).
    grad_f : callable
        ``grad_f(theta)`` returns :math:`\\nabla f(\\theta)` with the shape of ``theta``.
    lr : float
        Learning rate :math:`\\eta \\ge 0`.
    rho : float
        Perturbation radius :math:`\\rho \\ge 0`.
    p : float, default 2
        Norm of the perturbation ball.

    Returns
    -------
    numpy.ndarray
        The new point. When ``rho == 0`` or :math:`\\nabla f(\\theta) = 0` the perturbation is zero and the
        result is bitwise identical to :func:`gd_step` (the review's eq. 3 is undefined at a zero gradient; we
        take :math:`\\hat\\epsilon = 0`, see the module docstring), and ``grad_f`` is called only once.

    Raises
    ------
    TypeError
        If ``grad_f`` is not callable, ``lr``/``rho``/``p`` is not a real number, or ``theta`` or a gradient
        does not hold real numbers.
    ValueError
        On negative or non-finite ``lr``/``rho``, ``p < 1``, non-finite values or mismatched shapes.
    """
    lr = check_nonnegative(lr, "lr")
    rho = check_nonnegative(rho, "rho")
    p = check_p_norm(p, "p")
    _check_callable(grad_f, "grad_f")
    theta = _as_theta(theta)
    g = _checked_grad(grad_f, theta, "theta")
    eps = ascent_direction(g, rho, p)
    if not bool((eps != 0).any()):
        # Zero perturbation: reuse g so that the result equals gd_step bit for bit.
        return theta - lr * g
    return theta - lr * _checked_grad(grad_f, theta + eps, "theta + epsilon")


@dataclass(frozen=True)
class Trajectory:
    """Iterates of a run of SAM or GD.

    Attributes
    ----------
    iterates : numpy.ndarray, shape (num_steps + 1, d)
        ``iterates[0]`` is the start, ``iterates[t]`` the point after ``t`` steps. Rows after a divergence are
        ``nan`` when ``on_nonfinite="stop"``.
    losses : numpy.ndarray or None, shape (num_steps + 1,)
        ``f`` at each iterate, when ``f`` was given.
    lrs, rhos : numpy.ndarray, shape (num_steps,)
        The learning rate and radius used at each step (after evaluating schedules).
    method : str
        ``"sam"`` or ``"gd"``.
    diverged_at : int or None
        First step whose gradient or iterate was not finite (``on_nonfinite="stop"`` only).

    ``np.asarray(trajectory)`` gives ``iterates``.
    """

    iterates: np.ndarray
    losses: np.ndarray | None
    lrs: np.ndarray
    rhos: np.ndarray
    method: str
    diverged_at: int | None = None

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.iterates if dtype is None else self.iterates.astype(dtype)

    def __len__(self) -> int:
        return len(self.iterates)

    @property
    def final(self) -> np.ndarray:
        """The last iterate, shape (d,)."""
        return self.iterates[-1]


def _schedule_value(s: ValueOrSchedule, t: int, name: str) -> float:
    value = s(t) if callable(s) else s
    return check_nonnegative(value, f"{name}(t={t})" if callable(s) else name)


def _check_schedule(s: ValueOrSchedule, name: str) -> None:
    if not callable(s):
        check_nonnegative(s, name)


_METHODS = ("sam", "gd")


def _check_method(method: str) -> str:
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {describe(method)}")
    return method


def _check_on_nonfinite(on_nonfinite: str) -> str:
    if not isinstance(on_nonfinite, str) or on_nonfinite not in ("raise", "stop"):
        raise ValueError(f"on_nonfinite must be 'raise' or 'stop', got {describe(on_nonfinite)}")
    return on_nonfinite


def _check_f(f: Any) -> None:
    if f is not None:
        _check_callable(f, "f")


def _losses(f: Callable[[np.ndarray], float] | None, iterates: np.ndarray) -> np.ndarray | None:
    if f is None:
        return None
    out = np.full(len(iterates), np.nan)
    for i, x in enumerate(iterates):
        if np.all(np.isfinite(x)):
            value = f(x)
            try:
                out[i] = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"f(theta) must return a real number, got {describe(value)}") from None
    return out


def run_trajectory(
    theta0: Any,
    grad_f: Callable[[np.ndarray], Any],
    lr: ValueOrSchedule,
    rho: ValueOrSchedule,
    num_steps: int,
    p: float = 2,
    method: str = "sam",
    f: Callable[[np.ndarray], float] | None = None,
    on_nonfinite: str = "raise",
) -> Trajectory:
    """Run ``num_steps`` deterministic SAM (eq. 3) or GD (eq. 4) steps from ``theta0``.

    Parameters
    ----------
    theta0 : array_like, shape (d,)
        Start; a scalar is treated as shape ``(1,)``.
    grad_f : callable
        ``grad_f(theta)`` returns :math:`\\nabla f(\\theta)`, shape (d,).
    lr, rho : float or callable
        Learning rate and radius, constants or schedules ``t -> value`` evaluated at the step index
        ``t = 0, ..., num_steps - 1`` (e.g. ``lambda t: lr0 / np.sqrt(t + 1)``). ``rho`` is ignored for GD.
    num_steps : int
        Number of steps, ``>= 0``.
    p : float, default 2
        Norm of the SAM perturbation ball.
    method : {"sam", "gd"}
        Which update to apply.
    f : callable, optional
        If given, ``f(theta)`` is recorded at each iterate in ``Trajectory.losses``.
    on_nonfinite : {"raise", "stop"}
        What to do if a gradient or iterate becomes inf/nan (divergence): raise ``ValueError`` naming the
        step, or stop and fill the remaining rows with ``nan`` (``Trajectory.diverged_at`` records the step).

    Returns
    -------
    Trajectory
        ``iterates`` has shape ``(num_steps + 1, d)``.

    Examples
    --------
    >>> traj = run_trajectory(1.0, lambda x: 2 * x, lr=0.25, rho=0.0, num_steps=2)
    >>> traj.iterates[:, 0]
    array([1.  , 0.5 , 0.25])
    """
    theta = np.asarray(_as_theta(theta0, "theta0"), dtype=float)
    if theta.ndim != 1:
        raise ValueError(f"theta0 must be a scalar or a vector of shape (d,), got shape {theta.shape}")
    _check_callable(grad_f, "grad_f")
    _check_f(f)
    num_steps = check_int_at_least(num_steps, 0, "num_steps")
    method = _check_method(method)
    on_nonfinite = _check_on_nonfinite(on_nonfinite)
    p = check_p_norm(p, "p")
    _check_schedule(lr, "lr")
    _check_schedule(rho, "rho")

    return _iterate(theta, lambda t: grad_f, lr, rho, num_steps, p, method, f, on_nonfinite)


def _iterate(
    theta: np.ndarray,
    oracle_at: Callable[[int], Callable[[np.ndarray], Any]],
    lr: ValueOrSchedule,
    rho: ValueOrSchedule,
    num_steps: int,
    p: float,
    method: str,
    f: Callable[[np.ndarray], float] | None,
    on_nonfinite: str,
) -> Trajectory:
    """The step loop shared by the deterministic and stochastic runners (inputs already checked).

    ``oracle_at(t)`` returns the gradient function used at step ``t``.
    """
    iterates = np.full((num_steps + 1, theta.size), np.nan)
    iterates[0] = theta
    lrs = np.full(num_steps, np.nan)
    rhos = np.full(num_steps, np.nan)
    diverged_at = None
    for t in range(num_steps):
        lrs[t] = _schedule_value(lr, t, "lr")
        rhos[t] = _schedule_value(rho, t, "rho") if method == "sam" else 0.0
        grad = oracle_at(t)
        try:
            if method == "sam":
                theta = sam_step(theta, grad, lrs[t], rhos[t], p)
            else:
                theta = gd_step(theta, grad, lrs[t])
            check_finite_array(theta, "theta")
        except ValueError as err:
            if on_nonfinite == "stop" and "non-finite" in str(err):
                diverged_at = t
                break
            if "non-finite" in str(err):
                raise ValueError(f"step t={t}: {err} (the run diverged; lower lr or use on_nonfinite='stop')") from err
            raise
        iterates[t + 1] = theta
    return Trajectory(iterates, _losses(f, iterates), lrs, rhos, method, diverged_at)


def run_stochastic_trajectory(
    theta0: Any,
    grad_oracle: Callable[[np.ndarray, np.random.Generator], Any],
    lr: ValueOrSchedule,
    rho: ValueOrSchedule,
    num_steps: int,
    seed: int,
    p: float = 2,
    method: str = "sam",
    f: Callable[[np.ndarray], float] | None = None,
    same_noise: bool = False,
    on_nonfinite: str = "raise",
) -> Trajectory:
    """Run stochastic SAM (Theorem 2 of the review) or SGD with a noisy gradient oracle.

    Stochastic SAM, as stated in the review's Theorem 2 (taken from Mi et al. 2022), is

    .. math::

        x_{t+1} = x_t - \\eta_t\\, g\\Bigl(x_t + \\rho_t \\frac{g(x_t)}{\\lVert g(x_t)\\rVert}\\Bigr),

    with :math:`g` an unbiased estimate of :math:`\\nabla f`. By default each of the two oracle calls of a step
    draws fresh noise (``same_noise=False``): the two :math:`g` in the formula are then independent estimates,
    which is the reading of the theorem's notation in which every evaluation of :math:`g` is a new draw. With
    ``same_noise=True`` both calls of a step see the same random stream, the analogue of evaluating both
    gradients on the same mini-batch, as practical SAM does. SGD (``method="gd"``) calls the oracle once per step.
    All randomness comes from ``np.random.default_rng(seed)``, so a run is reproducible.

    Parameters
    ----------
    theta0 : array_like, shape (d,)
        Start; a scalar is treated as shape ``(1,)``.
    grad_oracle : callable
        ``grad_oracle(theta, rng)`` returns a noisy gradient of shape (d,) using only ``rng`` for randomness.
    lr, rho : float or callable
        Learning rate and radius, constants or schedules ``t -> value`` (``t = 0, ..., num_steps - 1``); e.g. the
        theorem's :math:`\\eta_t = \\eta_0/\\sqrt{t}` is ``lambda t: lr0 / np.sqrt(t + 1)`` with ``t`` counted from 0.
    num_steps : int
        Number of steps, ``>= 0``.
    seed : int
        Seed of ``np.random.default_rng``.
    p, method, f, on_nonfinite
        As in :func:`run_trajectory`.
    same_noise : bool, default False
        Use the same random stream for the two oracle calls of a SAM step.

    Returns
    -------
    Trajectory
    """
    theta = np.asarray(_as_theta(theta0, "theta0"), dtype=float)
    if theta.ndim != 1:
        raise ValueError(f"theta0 must be a scalar or a vector of shape (d,), got shape {theta.shape}")
    _check_callable(grad_oracle, "grad_oracle")
    _check_f(f)
    if not isinstance(same_noise, (bool, np.bool_)):
        raise TypeError(f"same_noise must be True or False, got {describe(same_noise)}")
    num_steps = check_int_at_least(num_steps, 0, "num_steps")
    seed = check_int_at_least(seed, 0, "seed")
    method = _check_method(method)
    on_nonfinite = _check_on_nonfinite(on_nonfinite)
    p = check_p_norm(p, "p")
    _check_schedule(lr, "lr")
    _check_schedule(rho, "rho")
    rng = np.random.default_rng(seed)

    def oracle_at(t: int) -> Callable[[np.ndarray], Any]:
        if same_noise:
            # One child seed per step; both calls of the step replay the same stream.
            step_seed = int(rng.integers(2**63))
            return lambda x: grad_oracle(x, np.random.default_rng(step_seed))
        return lambda x: grad_oracle(x, rng)

    return _iterate(theta, oracle_at, lr, rho, num_steps, p, method, f, on_nonfinite)


# ----------------------------------------------------------------------------------------
# Unnormalised SAM and several ascent steps (Part II of the book, the open questions)
# ----------------------------------------------------------------------------------------
__all__ += ["usam_step", "multistep_perturbation", "project_ball"]


def usam_step(theta: Any, grad_f: Callable[[Any], Any], lr: float, rho: float) -> Any:
    """One step of unnormalised SAM (USAM): :math:`\\theta - \\eta\\,\\nabla f(\\theta + \\rho\\,\\nabla f(\\theta))`.

    The ascent step is the gradient itself, scaled by :math:`\\rho`, not the unit vector of
    :func:`ascent_direction` (Andriushchenko & Flammarion 2022, §3, who analyse this variant; Dai, Ahn & Sra
    2023 compare it with SAM). On :math:`\\tfrac12\\theta^TA\\theta` it is the linear map
    :math:`\\theta \\mapsto (I - \\eta A - \\eta\\rho A^2)\\theta`, which expands the eigen-direction of
    :math:`\\lambda` exactly when :math:`\\eta\\lambda(1+\\rho\\lambda) > 2`.

    Parameters
    ----------
    theta : array_like, shape (d,)
        Current point (a scalar is treated as shape ``(1,)``).
    grad_f : callable
        ``grad_f(theta)`` returns :math:`\\nabla f(\\theta)` with the shape of ``theta``.
    lr, rho : float
        Learning rate :math:`\\eta \\ge 0` and radius :math:`\\rho \\ge 0`.

    Returns
    -------
    numpy.ndarray
        The new point. A zero gradient (or ``rho == 0``) gives the GD step, bit for bit, with one call of
        ``grad_f``: no division is involved, so a stationary point needs no special rule.

    Raises
    ------
    TypeError
        If ``grad_f`` is not callable, ``lr``/``rho`` is not a real number, or ``theta`` or a gradient does not
        hold real numbers.
    ValueError
        On negative or non-finite ``lr``/``rho``, non-finite values or mismatched shapes.

    Examples
    --------
    >>> usam_step(np.array([1.0]), lambda x: 2.0 * x, lr=0.1, rho=0.5)  # x - 0.1 * 2 * (x + 0.5 * 2x)
    array([0.6])
    """
    lr = check_nonnegative(lr, "lr")
    rho = check_nonnegative(rho, "rho")
    _check_callable(grad_f, "grad_f")
    theta = _as_theta(theta)
    g = _checked_grad(grad_f, theta, "theta")
    if rho == 0.0 or not bool((g != 0).any()):
        return theta - lr * g
    return theta - lr * _checked_grad(grad_f, theta + rho * g, "theta + rho * grad")


def project_ball(eps: Any, rho: float) -> np.ndarray:
    """Euclidean projection onto the ball :math:`\\lVert\\epsilon\\rVert_2 \\le \\rho`:
    :math:`\\epsilon\\,\\min(1, \\rho/\\lVert\\epsilon\\rVert)` (the zero vector stays zero).

    Raises
    ------
    TypeError, ValueError
        If ``rho`` is not a real number >= 0, or ``eps`` is not a finite real array.

    Examples
    --------
    >>> project_ball(np.array([3.0, 4.0]), 1.0)
    array([0.6, 0.8])
    """
    rho = check_nonnegative(rho, "rho")
    e = np.asarray(check_finite_array(eps, "eps"), dtype=float)
    n = float(np.linalg.norm(e))
    return e if n <= rho else e * (rho / n)


def multistep_perturbation(
    theta: Any, grad_f: Callable[[Any], Any], rho: float, num_ascent: int, step: float | None = None
) -> np.ndarray:
    """The perturbation of SAM with ``num_ascent`` projected normalised-gradient ascent steps.

    .. math::

        \\epsilon_0 = 0, \\qquad
        \\epsilon_j = \\Pi_\\rho\\bigl(\\epsilon_{j-1} + \\hat\\epsilon_\\alpha(\\nabla f(\\theta + \\epsilon_{j-1}))\\bigr),
        \\quad j = 1, \\dots, k,

    where :math:`\\hat\\epsilon_\\alpha(g) = \\alpha g/\\lVert g\\rVert` is :func:`ascent_direction` with radius
    :math:`\\alpha` (``step``) and :math:`\\Pi_\\rho` is :func:`project_ball`. This is the "several ascent
    steps" variant of the inner maximisation that Foret et al. (2021) and Andriushchenko & Flammarion (2022)
    compare with one step. With ``k = 1`` and :math:`\\alpha \\ge \\rho` it is SAM's
    :math:`\\hat\\epsilon = \\rho g/\\lVert g\\rVert` exactly. Default :math:`\\alpha = 2.5\\rho/k` (the
    projected-gradient choice common in adversarial training: the steps can cross the ball within ``k``).

    Parameters
    ----------
    theta : array_like, shape (d,)
    grad_f : callable
        ``grad_f(theta)`` returns :math:`\\nabla f(\\theta)`.
    rho : float
        Radius :math:`\\rho \\ge 0`.
    num_ascent : int
        Number of ascent steps :math:`k \\ge 1`.
    step : float, optional
        Ascent step length :math:`\\alpha > 0`.

    Returns
    -------
    numpy.ndarray, shape (d,)
        :math:`\\epsilon_k`, of norm at most :math:`\\rho`. A zero gradient contributes a zero ascent step
        (the book's :math:`\\hat\\epsilon(0) = 0`), so at a stationary point the result is 0.

    Raises
    ------
    TypeError, ValueError
        As :func:`sam_step`; also if ``num_ascent`` is not an integer >= 1 or ``step`` is not > 0.

    Examples
    --------
    >>> multistep_perturbation(np.array([1.0, 0.0]), lambda x: x, rho=0.5, num_ascent=1)
    array([0.5, 0. ])
    """
    rho = check_nonnegative(rho, "rho")
    k = check_int_at_least(num_ascent, 1, "num_ascent")
    alpha = 2.5 * rho / k if step is None else check_nonnegative(step, "step")
    if step is not None and alpha == 0.0:
        raise ValueError(f"step must be > 0, got {step!r}")
    _check_callable(grad_f, "grad_f")
    theta = np.asarray(_as_theta(theta), dtype=float)
    eps = np.zeros_like(theta)
    for j in range(k):
        g = _checked_grad(grad_f, theta + eps, "theta" if j == 0 else "theta + epsilon")
        eps = project_ball(eps + ascent_direction(g, alpha), rho)
    return eps
