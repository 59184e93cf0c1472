"""The review's toy functions and other small test landscapes, with exact derivatives.

Each landscape is a frozen :class:`Landscape` whose ``value``, ``grad`` and ``hessian`` are numpy callables
generated from one sympy expression with :func:`sympy.lambdify`, so that the three can never disagree with each
other or with the formula (``sympy_expr()`` returns that formula); the quadratic and the separable test functions
are written directly in numpy (cheap in any dimension) and build their sympy formula only when asked. All three accept a point of shape ``(d,)``
or a batch of shape ``(..., d)`` (handy for contour plots) and return shapes ``(...)``, ``(..., d)`` and
``(..., d, d)``.

=============================  =====================================================================
:func:`review_1d`              :math:`x^2(x-1)^2/(x^2+c)`, :math:`c=10^{-4}` (the review's Figure 1)
:func:`review_2d`              :math:`(x-1)^2 y^2` (the review's Section 2.3.1 and Figure 2)
:func:`quadratic`              :math:`\\tfrac12 \\theta^T A \\theta`
:func:`double_well`            two minima :math:`(\\pm1, 0)` of equal value and different sharpness
:func:`rosenbrock`             :math:`(a-x)^2 + b(y-x^2)^2`
:func:`sines_quadratic`        :math:`\\tfrac12\\lVert\\theta\\rVert^2 + a\\sum_i \\sin^2(\\omega\\theta_i)`
:func:`wen_ma_li_4d`           :math:`F_1(x_1,x_2)x_3^2 + F_2(x_1,x_2)x_4^2` (Wen, Ma & Li 2022)
:func:`tilted_pseudo_huber`    :math:`\\sum_i \\sqrt{1+\\theta_i^2} - 1 - c\\,\\theta_i`, convex, known G and L
:func:`cauchy_log`             :math:`\\tfrac12\\sum_i \\log(1+\\theta_i^2)`, non-convex, known G and L
=============================  =====================================================================

The last two serve the convergence theorem (Theorem 2 of the review), whose bound needs the constants ``G``
(a bound on the gradient norm) and ``L`` (the Lipschitz constant of the gradient): they carry them exactly, and
also torch kernels (``torch_value``, ``torch_grad``) for runners that advance many replicates in torch.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import sympy as sp

from samlib._validation import (
    check_real,
    check_finite_array,
    check_int_at_least,
    check_nonnegative,
    check_positive,
    check_symmetric,
)

__all__ = [
    "Landscape",
    "from_sympy",
    "review_1d",
    "review_2d",
    "quadratic",
    "double_well",
    "rosenbrock",
    "sines_quadratic",
    "wen_ma_li_4d",
    "tilted_pseudo_huber",
    "cauchy_log",
    "catalog",
]


@dataclass(frozen=True)
class Landscape:
    """A smooth function :math:`f:\\mathbb{R}^d\\to\\mathbb{R}` with its gradient and Hessian.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"review_1d"``.
    dim : int
        Dimension :math:`d`.
    value, grad, hessian : callable
        numpy functions of ``theta`` of shape ``(d,)`` or ``(..., d)``.
    params : dict
        The parameters the landscape was built with (e.g. ``{"c": 1e-4}``).
    minima : tuple of numpy.ndarray
        Some known global minimisers (not necessarily all: e.g. ``review_2d`` has two lines of minima).
    description : str
        One line saying what the function is and where it comes from.
    G : float or None
        :math:`\\sup_\\theta \\lVert\\nabla f(\\theta)\\rVert`, exactly, where it is finite and known (the constant
        :math:`G` of the review's Theorem 2, Assumption 1); None otherwise.
    L : float or None
        Lipschitz constant of :math:`\\nabla f` (:math:`L`-smoothness, Assumption 3), exactly, where known.
    f_min : float or None
        :math:`\\inf_\\theta f(\\theta)`, where known.
    convex : bool or None
        Whether :math:`f` is convex, where known.
    torch_value, torch_grad : callable or None
        Optional torch versions of ``value`` and ``grad`` for a tensor of points ``(..., d)``, without input
        checks, for inner loops that keep many replicates in torch (:mod:`samlib.studies.convergence`).
        ``torch_grad(x, out=None, tmp=None)`` may write into preallocated ``out`` and ``tmp`` buffers of
        the shape of ``x``. They compute the same formula as ``value`` and ``grad``.
    """

    name: str
    dim: int
    value: Callable[[np.ndarray], Any]
    grad: Callable[[np.ndarray], np.ndarray]
    hessian: Callable[[np.ndarray], np.ndarray]
    params: dict = field(default_factory=dict)
    minima: tuple = ()
    description: str = ""
    _sympy: Callable[[], tuple] | None = field(default=None, repr=False, compare=False)
    G: float | None = None
    L: float | None = None
    f_min: float | None = None
    convex: bool | None = None
    torch_value: Callable[[Any], Any] | None = field(default=None, repr=False, compare=False)
    torch_grad: Callable[..., Any] | None = field(default=None, repr=False, compare=False)

    def __call__(self, theta: Any) -> Any:
        """Same as ``value(theta)``."""
        return self.value(theta)

    def sympy_expr(self) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
        """Return ``(expr, symbols)``: the sympy formula of ``value`` and its variables in order."""
        if self._sympy is None:
            raise ValueError(f"landscape {self.name!r} has no sympy expression")
        return self._sympy()


def _exact(v: float) -> sp.Rational:
    """The float ``v`` as the sympy rational of its shortest decimal repr (1e-4 -> 1/10000), for exact algebra."""
    return sp.Rational(repr(float(v)))


def _point(theta: Any, dim: int, name: str) -> np.ndarray:
    x = check_finite_array(theta, "theta")
    x = np.asarray(x, dtype=float)
    if x.ndim == 0 and dim == 1:
        x = x.reshape(1)
    if x.ndim == 0 or x.shape[-1] != dim:
        raise ValueError(f"{name}: theta must have shape (..., {dim}), got shape {x.shape}")
    return x


def from_sympy(
    name: str,
    expr: sp.Expr,
    symbols: tuple[sp.Symbol, ...],
    params: dict | None = None,
    minima: tuple = (),
    description: str = "",
) -> Landscape:
    """Build a :class:`Landscape` from a sympy expression by symbolic differentiation and ``lambdify``.

    Parameters
    ----------
    name : str
        Identifier of the landscape.
    expr : sympy.Expr
        The function, in the variables ``symbols`` only.
    symbols : tuple of sympy.Symbol
        Its variables, in the order of the coordinates of ``theta``.
    params, minima, description
        Stored on the result (see :class:`Landscape`).
    """
    symbols = tuple(symbols)
    dim = len(symbols)
    if dim == 0:
        raise ValueError(f"symbols must not be empty, got {symbols!r}")
    extra = expr.free_symbols - set(symbols)
    if extra:
        raise ValueError(f"expr has free symbols {sorted(map(str, extra))} not in symbols")
    grad_exprs = [sp.diff(expr, s) for s in symbols]
    hess_exprs = [[sp.diff(gi, s) for s in symbols] for gi in grad_exprs]
    f_value = sp.lambdify(symbols, expr, "numpy")
    f_grad = [sp.lambdify(symbols, e, "numpy") for e in grad_exprs]
    f_hess = [[sp.lambdify(symbols, e, "numpy") for e in row] for row in hess_exprs]

    def unpack(theta: Any) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        x = _point(theta, dim, name)
        return x, tuple(x[..., i] for i in range(dim))

    def value(theta: Any) -> Any:
        x, args = unpack(theta)
        v = np.broadcast_to(np.asarray(f_value(*args), dtype=float), x.shape[:-1])
        return float(v) if v.ndim == 0 else v.copy()

    def grad(theta: Any) -> np.ndarray:
        x, args = unpack(theta)
        # constant derivatives come back as Python numbers: broadcast them to the batch shape
        parts = [np.broadcast_to(np.asarray(fg(*args), dtype=float), x.shape[:-1]) for fg in f_grad]
        return np.stack(parts, axis=-1)

    def hessian(theta: Any) -> np.ndarray:
        x, args = unpack(theta)
        rows = [
            np.stack([np.broadcast_to(np.asarray(fh(*args), dtype=float), x.shape[:-1]) for fh in row], axis=-1)
            for row in f_hess
        ]
        return np.stack(rows, axis=-2)

    return Landscape(
        name=name,
        dim=dim,
        value=value,
        grad=grad,
        hessian=hessian,
        params=dict(params or {}),
        minima=tuple(np.asarray(m, dtype=float) for m in minima),
        description=description,
        _sympy=lambda: (expr, symbols),
    )


def review_1d(c: float = 1e-4) -> Landscape:
    """The review's Figure 1 function :math:`f(x) = x^2 (x-1)^2 / (x^2 + c)`, default :math:`c = 10^{-4}`.

    Global minima :math:`x = 0` (sharp: :math:`f''(0) = 2/c = 2\\cdot10^4`) and :math:`x = 1` (flat:
    :math:`f''(1) = 2/(1+c) \\approx 2`), both with value 0.

    Raises
    ------
    ValueError
        If ``c`` is not finite and > 0 (``c = 0`` makes :math:`f` undefined at 0).
    """
    c = check_positive(c, "c")
    x = sp.Symbol("x", real=True)
    expr = x**2 * (x - 1) ** 2 / (x**2 + _exact(c))
    return from_sympy(
        "review_1d", expr, (x,), params={"c": c}, minima=([0.0], [1.0]),
        description="x^2 (x-1)^2 / (x^2 + c): sharp minimum at 0, flat minimum at 1 (review, Figure 1)",
    )


def review_2d() -> Landscape:
    """The review's Section 2.3.1 function :math:`f(x, y) = (x-1)^2 y^2`.

    Its minima are the two lines :math:`x = 1` and :math:`y = 0`. On the line :math:`y = 0` the Hessian is
    :math:`\\operatorname{diag}(0, 2(x-1)^2)`, so the minima get flatter as :math:`x \\to 1`; :math:`(1, 0)` is
    the flattest (zero Hessian).
    """
    x, y = sp.symbols("x y", real=True)
    return from_sympy(
        "review_2d", (x - 1) ** 2 * y**2, (x, y), minima=([1.0, 0.0],),
        description="(x-1)^2 y^2: minima on the lines x = 1 and y = 0 (review, Section 2.3.1, Figure 2)",
    )


def quadratic(A: Any) -> Landscape:
    """The quadratic :math:`f(\\theta) = \\tfrac12 \\theta^T A \\theta` for a symmetric matrix :math:`A`.

    Gradient :math:`A\\theta`, Hessian :math:`A`. Computed directly with numpy (no sympy), so large :math:`d`
    is cheap; ``sympy_expr()`` builds the formula only when asked.

    Raises
    ------
    ValueError
        If ``A`` is not a finite, square, symmetric matrix.
    """
    A = np.array(check_symmetric(A, "A"), dtype=float)
    A = 0.5 * (A + A.T)  # exact symmetry, so grad is exactly the gradient of value
    A.setflags(write=False)
    d = A.shape[0]
    if d == 0:
        raise ValueError("A must be at least 1x1, got shape (0, 0)")

    def value(theta: Any) -> Any:
        x = _point(theta, d, "quadratic")
        v = 0.5 * np.einsum("...i,ij,...j->...", x, A, x)
        return float(v) if np.ndim(v) == 0 else v

    def grad(theta: Any) -> np.ndarray:
        return _point(theta, d, "quadratic") @ A  # A symmetric: x A = (A x)^T

    def hessian(theta: Any) -> np.ndarray:
        x = _point(theta, d, "quadratic")
        return np.broadcast_to(A, x.shape[:-1] + (d, d)).copy()

    def expr() -> tuple:
        syms = sp.symbols(f"theta0:{d}", real=True)
        th = sp.Matrix(syms)
        return sp.nsimplify(sp.Rational(1, 2) * (th.T * sp.Matrix(A) * th)[0, 0], rational=False), syms

    lam = np.linalg.eigvalsh(A)
    minima = (np.zeros(d),) if lam[0] >= 0 else ()
    return Landscape(
        name="quadratic", dim=d, value=value, grad=grad, hessian=hessian, params={"A": A}, minima=minima,
        description="1/2 theta^T A theta", _sympy=expr,
    )


def double_well(a: float = 1.0) -> Landscape:
    """Double well :math:`f(x, y) = (x^2 - 1)^2 + \\tfrac12 e^{a x} y^2` with minima :math:`(\\pm 1, 0)`.

    Both minima have value 0; the Hessians are :math:`\\operatorname{diag}(8, e^{\\pm a})`, so for ``a > 0`` the
    minimum :math:`(-1, 0)` is flatter in :math:`y` (largest eigenvalue 8 in both, trace :math:`8 + e^{\\pm a}`).
    For ``a > \\ln 8`` the largest eigenvalue at :math:`(1, 0)` is :math:`e^a > 8`, so the two minima differ in
    :math:`\\lambda_{\\max}` too.
    """
    a = check_nonnegative(a, "a")
    x, y = sp.symbols("x y", real=True)
    expr = (x**2 - 1) ** 2 + sp.Rational(1, 2) * sp.exp(_exact(a) * x) * y**2
    return from_sympy(
        "double_well", expr, (x, y), params={"a": a}, minima=([-1.0, 0.0], [1.0, 0.0]),
        description="(x^2-1)^2 + exp(a x) y^2 / 2: two minima (+-1, 0) of different sharpness",
    )


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Landscape:
    """Rosenbrock's function :math:`f(x, y) = (a - x)^2 + b (y - x^2)^2`, minimum :math:`(a, a^2)`.

    A curved, ill-conditioned valley (Hessian eigenvalues about 0.4 and 1002 at the minimum for the defaults).
    """
    a = check_real(a, "a")  # a scalar: an array would silently broadcast into the minimum
    if not math.isfinite(a):
        raise ValueError(f"a must be a finite real number, got {a!r}")
    b = check_positive(b, "b")
    x, y = sp.symbols("x y", real=True)
    expr = (_exact(a) - x) ** 2 + _exact(b) * (y - x**2) ** 2
    return from_sympy(
        "rosenbrock", expr, (x, y), params={"a": a, "b": b}, minima=([a, a**2],),
        description="(a-x)^2 + b (y-x^2)^2: a curved ill-conditioned valley",
    )


def sines_quadratic(dim: int = 2, amplitude: float = 0.5, frequency: float = 3.0) -> Landscape:
    """Many local minima: :math:`f(\\theta) = \\tfrac12\\lVert\\theta\\rVert^2 + a\\sum_i \\sin^2(\\omega\\theta_i)`.

    Non-negative, global minimum 0 at the origin; for :math:`2 a \\omega^2 > 1` there are local minima near
    :math:`\\theta_i \\approx k\\pi/\\omega` in each coordinate.
    """
    dim = check_int_at_least(dim, 1, "dim")
    amplitude = check_nonnegative(amplitude, "amplitude")
    frequency = check_positive(frequency, "frequency")
    syms = sp.symbols(f"theta0:{dim}", real=True)
    expr = sum(s**2 / 2 + _exact(amplitude) * sp.sin(_exact(frequency) * s) ** 2 for s in syms)
    return from_sympy(
        "sines_quadratic", expr, syms, params={"dim": dim, "amplitude": amplitude, "frequency": frequency},
        minima=(np.zeros(dim),),
        description="|theta|^2/2 + a sum_i sin^2(w theta_i): many local minima, global minimum at 0",
    )


def wen_ma_li_4d(F1: Callable | None = None, F2: Callable | None = None) -> Landscape:
    """The 4D example of Wen, Ma & Li (2022): :math:`L(x) = F_1(x_1,x_2)\\,x_3^2 + F_2(x_1,x_2)\\,x_4^2`.

    Its minimisers are the plane :math:`x_3 = x_4 = 0` (a manifold of minima, for positive :math:`F_1, F_2`),
    where the Hessian is :math:`\\operatorname{diag}(0, 0, 2F_1, 2F_2)`: the largest eigenvalue is
    :math:`2\\max(F_1, F_2)` and the trace :math:`2(F_1 + F_2)`. Wen, Ma & Li show that full-batch SAM drifts
    along the manifold towards small :math:`\\lambda_{\\max}` while stochastic (batch-size-1) SAM drifts towards
    small trace; the example separates the two when their minimisers differ.

    Our default (our choice; the paper leaves :math:`F_1, F_2` general) is

    .. math::

        F_1 = 1 + (x_1 - 1)^2 + x_2^2, \\qquad F_2 = 1 + 2 (x_1 + 1)^2 + x_2^2,

    smooth and :math:`\\ge 1`. On the manifold (with :math:`x_2 = 0`) the trace :math:`2(F_1+F_2)` is minimal at
    :math:`x_1 = -1/3` (trace :math:`28/3 \\approx 9.33`), while :math:`2\\max(F_1,F_2)` is minimal where
    :math:`F_1 = F_2`, at :math:`x_1 = 2\\sqrt2 - 3 \\approx -0.172` (:math:`\\lambda_{\\max} = 50 - 32\\sqrt2
    \\approx 4.75`); so the two notions of the flattest minimum differ (both at :math:`x_2 = 0`).

    Parameters
    ----------
    F1, F2 : callable, optional
        ``F(x1, x2)`` returning a sympy expression (should be smooth and positive); defaults above.
    """
    x1, x2, x3, x4 = sp.symbols("x1 x2 x3 x4", real=True)
    f1 = F1(x1, x2) if F1 is not None else 1 + (x1 - 1) ** 2 + x2**2
    f2 = F2(x1, x2) if F2 is not None else 1 + 2 * (x1 + 1) ** 2 + x2**2
    expr = f1 * x3**2 + f2 * x4**2
    params: dict = {"F1": f1, "F2": f2}
    if F1 is None and F2 is None:
        params["argmin_trace_x1"] = -1.0 / 3.0
        params["argmin_lambda_max_x1"] = 2 * math.sqrt(2) - 3
    return from_sympy(
        "wen_ma_li_4d", expr, (x1, x2, x3, x4), params=params, minima=([0.0, 0.0, 0.0, 0.0],),
        description="F1(x1,x2) x3^2 + F2(x1,x2) x4^2: a plane of minima x3 = x4 = 0 (Wen, Ma & Li 2022)",
    )


# ----------------------------------------------------------------------------------------------------------------
# Separable test functions with exactly known G and L (the convergence theorem's constants)
# ----------------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _torch_scalar(value: float, dtype: Any) -> Any:
    """A cached 0-d tensor: creating one costs about as much as a small op in a runner's inner loop."""
    import torch  # only the torch kernels need it: numpy users of the landscapes never load torch

    return torch.full((), value, dtype=dtype)


def _separable(
    name: str,
    dim: int,
    h: Callable[[np.ndarray], np.ndarray],
    dh: Callable[[np.ndarray], np.ndarray],
    d2h: Callable[[np.ndarray], np.ndarray],
    expr_1d: Callable[[sp.Symbol], sp.Expr],
    **fields: Any,
) -> Landscape:
    """A :class:`Landscape` :math:`f(\\theta) = \\sum_i h(\\theta_i)` from numpy ``h, h', h''``.

    Written directly in numpy, so any ``dim`` is cheap; the sympy formula is built only when asked for.
    """

    def value(theta: Any) -> Any:
        v = h(_point(theta, dim, name)).sum(-1)
        return float(v) if np.ndim(v) == 0 else v

    def grad(theta: Any) -> np.ndarray:
        return dh(_point(theta, dim, name))

    def hessian(theta: Any) -> np.ndarray:
        diag = d2h(_point(theta, dim, name))
        return diag[..., :, None] * np.eye(dim)

    def expr() -> tuple:
        syms = sp.symbols(f"theta0:{dim}", real=True)
        return sum(expr_1d(s) for s in syms), syms

    return Landscape(name=name, dim=dim, value=value, grad=grad, hessian=hessian, _sympy=expr, **fields)


def tilted_pseudo_huber(dim: int, c: float = 0.5) -> Landscape:
    """Convex test function :math:`f(\\theta) = \\sum_i \\bigl(\\sqrt{1 + \\theta_i^2} - 1 - c\\,\\theta_i\\bigr)`.

    The tilt is ``0 <= c < 1``.

    :math:`h'(x) = x/\\sqrt{1+x^2} - c` lies in :math:`(-1-c, 1-c)`, so :math:`G = (1+c)\\sqrt d` (approached as
    every :math:`\\theta_i \\to -\\infty`); :math:`h''(x) = (1+x^2)^{-3/2} \\le 1`, so :math:`L = 1`. The minimum is
    at :math:`\\theta_i = c/\\sqrt{1-c^2}` with value :math:`d(\\sqrt{1-c^2} - 1)`. The tilt ``c`` makes ``f``
    asymmetric about its minimiser, which a constant perturbation radius can exploit (the constant-rho regime of
    the convergence chapter).

    Raises
    ------
    ValueError
        If ``dim < 1`` or ``c`` is not in ``[0, 1)`` (for ``c >= 1`` the function is unbounded below).

    Examples
    --------
    >>> f = tilted_pseudo_huber(10, c=0.5)
    >>> round(f.G, 4), f.L
    (4.7434, 1.0)
    """
    dim = check_int_at_least(dim, 1, "dim")
    c = check_nonnegative(c, "c")
    if c >= 1:
        raise ValueError(f"c must be < 1 so that f is bounded below, got {c!r}")

    def torch_value(x: Any) -> Any:
        return ((1 + x * x).sqrt() - 1 - c * x).sum(-1)

    def torch_grad(x: Any, out: Any = None, tmp: Any = None) -> Any:
        import torch  # see _torch_scalar

        # a few in-place ops: this is the inner loop of samlib.studies.convergence.run_stochastic_sam
        out = torch.empty_like(x) if out is None else out
        tmp = torch.empty_like(x) if tmp is None else tmp
        torch.addcmul(_torch_scalar(1.0, x.dtype), x, x, out=tmp)  # 1 + x^2 in one op
        tmp.rsqrt_()
        torch.addcmul(_torch_scalar(-c, x.dtype), x, tmp, out=out)  # h'(x) = x / sqrt(1 + x^2) - c
        return out

    x_min = c / math.sqrt(1 - c * c)
    return _separable(
        "tilted pseudo-Huber", dim,
        h=lambda x: np.sqrt(1 + x * x) - 1 - c * x,
        dh=lambda x: x / np.sqrt(1 + x * x) - c,
        d2h=lambda x: (1 + x * x) ** -1.5,
        expr_1d=lambda s: sp.sqrt(1 + s**2) - 1 - _exact(c) * s,
        params={"c": c}, minima=(np.full(dim, x_min),),
        description="sum_i sqrt(1 + x_i^2) - 1 - c x_i: convex, G = (1+c) sqrt(d), L = 1",
        G=(1 + c) * math.sqrt(dim), L=1.0, f_min=dim * (math.sqrt(1 - c * c) - 1), convex=True,
        torch_value=torch_value, torch_grad=torch_grad,
    )


def cauchy_log(dim: int) -> Landscape:
    """Non-convex test function :math:`f(\\theta) = \\tfrac12 \\sum_i \\log(1 + \\theta_i^2)`.

    :math:`h'(x) = x/(1+x^2)` has :math:`|h'| \\le 1/2` (at :math:`|x| = 1`), so :math:`G = \\sqrt d/2`;
    :math:`h''(x) = (1-x^2)/(1+x^2)^2` lies in :math:`[-1/8, 1]`, so :math:`L = 1` and ``f`` is non-convex for
    :math:`|\\theta_i| > 1`. Minimum 0 at the origin.

    Raises
    ------
    ValueError
        If ``dim < 1``.
    """
    dim = check_int_at_least(dim, 1, "dim")

    def torch_value(x: Any) -> Any:
        return 0.5 * (x * x).log1p().sum(-1)

    def torch_grad(x: Any, out: Any = None, tmp: Any = None) -> Any:
        import torch  # see _torch_scalar

        out = torch.empty_like(x) if out is None else out
        tmp = torch.empty_like(x) if tmp is None else tmp
        torch.addcmul(_torch_scalar(1.0, x.dtype), x, x, out=tmp)  # 1 + x^2 in one op
        torch.div(x, tmp, out=out)  # h'(x) = x / (1 + x^2)
        return out

    return _separable(
        "Cauchy log", dim,
        h=lambda x: 0.5 * np.log1p(x * x),
        dh=lambda x: x / (1 + x * x),
        d2h=lambda x: (1 - x * x) / (1 + x * x) ** 2,
        expr_1d=lambda s: sp.log(1 + s**2) / 2,
        params={}, minima=(np.zeros(dim),),
        description="(1/2) sum_i log(1 + x_i^2): non-convex, G = sqrt(d)/2, L = 1",
        G=0.5 * math.sqrt(dim), L=1.0, f_min=0.0, convex=False,
        torch_value=torch_value, torch_grad=torch_grad,
    )


def catalog() -> dict[str, Landscape]:
    """The landscapes of the review's toy problems with their default parameters (``quadratic`` with
    ``diag(1, 10)``); the convergence test functions, which need a dimension, are built by their factories."""
    return {
        ls.name: ls
        for ls in (
            review_1d(), review_2d(), quadratic(np.diag([1.0, 10.0])), double_well(), rosenbrock(),
            sines_quadratic(), wen_ma_li_4d(),
        )
    }
