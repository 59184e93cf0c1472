"""Second-order tools on a flat parameter vector: Hessian-vector products, the dense Hessian,
its largest eigenvalue (Lanczos and power iteration) and its trace (Hutchinson).

Every tool works on a scalar function of a flat vector, :math:`f:\\mathbb{R}^d\\to\\mathbb{R}`,
given as a torch-traceable callable ``f(theta) -> 0-d tensor``.  A torch model and a loss are
turned into such a function by :func:`model_loss_fn`, so the same code measures a toy
landscape and a network.

The Hessian-vector product is computed by automatic differentiation, never by forming
:math:`H`:

.. math::

    H(\\theta)\\,v = \\nabla_\\theta\\big(\\nabla f(\\theta)^\\top v\\big)
                 = \\frac{d}{dt}\\,\\nabla f(\\theta + t v)\\Big|_{t=0},

i.e. a vector-Jacobian product of the gradient map ("reverse over reverse", as in PyHessian,
Yao et al. 2020) or a Jacobian-vector product of it ("forward over reverse"), both with
``torch.func``.  Each product costs a small constant times one gradient evaluation.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vjp, vmap

from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

from ._validation import check_finite_array, check_int_at_least, check_nonnegative, check_positive, describe

__all__ = [
    "hvp",
    "hvp_operator",
    "model_loss_fn",
    "hessian_dense",
    "lambda_max",
    "lambda_max_power",
    "hessian_trace",
    "EigResult",
    "TraceResult",
]

_MODES = ("rev", "fwd")


class EigResult(NamedTuple):
    """Result of :func:`lambda_max` / :func:`lambda_max_power`."""

    eigenvalue: float
    eigenvector: torch.Tensor  # unit norm, shape (d,)
    num_hvp: int  # Hessian-vector products used
    # False when the iteration stopped at its cap, or stopped on its tolerance with a residual that
    # shows the vector is not an eigenvector (see lambda_max_power); Lanczos raises instead
    converged: bool = True


class TraceResult(NamedTuple):
    """Result of :func:`hessian_trace`."""

    estimate: float
    stderr: float  # standard error of the mean of the probes
    num_hvp: int


# -- input checks ----------------------------------------------------------------------------

def _check_f(f: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    if not callable(f):
        raise TypeError(f"f must be a callable f(theta) -> scalar tensor, got {describe(f)}")

    def scalar_f(theta: torch.Tensor) -> torch.Tensor:
        out = f(theta)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"f(theta) must return a 0-d tensor, got {type(out).__name__}")
        if out.ndim != 0:
            raise ValueError(f"f(theta) must return a 0-d tensor, got shape {tuple(out.shape)}")
        return out

    return scalar_f


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    """A tensor as it is, anything else through the shared array check (float64, finite, real numbers)."""
    if isinstance(x, torch.Tensor):
        return x
    return torch.as_tensor(check_finite_array(x, name))


def _check_theta(theta: Any, name: str = "theta") -> torch.Tensor:
    theta = _as_tensor(theta, name)
    if not theta.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {theta.dtype}")
    if theta.ndim != 1 or theta.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-d tensor, got shape {tuple(theta.shape)}")
    if not bool(torch.isfinite(theta).all()):
        raise ValueError(f"{name} contains non-finite values (nan or inf)")
    return theta.detach()


def _check_vector(v: Any, theta: torch.Tensor, name: str = "v") -> torch.Tensor:
    v = _as_tensor(v, name)
    if v.dtype == torch.bool or v.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {v.dtype}")
    if v.shape[-1:] != theta.shape or v.ndim not in (1, 2):
        raise ValueError(
            f"{name} must have shape {tuple(theta.shape)} (or (k, {theta.numel()})), "
            f"got {tuple(v.shape)}"
        )
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} contains non-finite values (nan or inf)")
    return v.detach().to(dtype=theta.dtype, device=theta.device)


def _check_mode(mode: str) -> str:
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {describe(mode)}")
    return mode


def _check_product(Hv: torch.Tensor) -> torch.Tensor:
    # f may be finite at theta while its second derivatives are not (|x|^1.5 at 0, exp overflow):
    # a nan here would otherwise come back as a nan eigenvalue or trace. A finite sum proves every entry
    # finite (nan and inf propagate) with one reduction; only a non-finite sum needs the entrywise look.
    if not math.isfinite(float(Hv.sum())) and not bool(torch.isfinite(Hv).all()):
        raise ValueError("the Hessian-vector product H(theta) v is not finite: f is not twice differentiable "
                         "at theta, or its second derivatives overflow theta's dtype")
    return Hv


def _check_seed(seed: Any) -> int:
    return check_int_at_least(seed, 0, "seed")


# -- Hessian-vector products -------------------------------------------------------------------

def hvp(f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, v: torch.Tensor,
        mode: str = "rev") -> torch.Tensor:
    """Hessian-vector product :math:`H(\\theta)v = \\nabla^2 f(\\theta)\\,v` by autodiff.

    Parameters
    ----------
    f : callable
        ``f(theta) -> 0-d tensor``, differentiable twice by ``torch.func``.
    theta : tensor, shape (d,)
        Point where the Hessian is taken (floating dtype; float64 for accurate spectra).
    v : tensor, shape (d,) or (k, d)
        Vector(s); a batch of ``k`` vectors gives ``k`` products (``vmap``).
    mode : {"rev", "fwd"}
        ``"rev"``: :math:`\\nabla_\\theta(\\nabla f^\\top v)` (vjp of the gradient, as PyHessian);
        ``"fwd"``: :math:`\\partial_t \\nabla f(\\theta+tv)|_{t=0}` (jvp of the gradient).

    Returns
    -------
    tensor, same shape as ``v``

    Raises
    ------
    TypeError
        If ``f`` is not callable or does not return a tensor, ``theta`` is not a floating tensor
        (or an array of real numbers), or ``v`` does not hold real numbers.
    ValueError
        If ``f`` returns a non-scalar tensor, ``theta`` is not a finite non-empty 1-d tensor, ``v``
        has the wrong shape or non-finite entries, ``mode`` is unknown, or :math:`Hv` is not finite
        (``f`` not twice differentiable at ``theta``, or overflow).

    Examples
    --------
    >>> import torch
    >>> A = torch.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    >>> f = lambda x: 0.5 * x @ A @ x
    >>> hvp(f, torch.zeros(2, dtype=torch.float64), torch.tensor([1.0, 0.0], dtype=torch.float64))
    tensor([2., 1.], dtype=torch.float64)
    """
    return hvp_operator(f, theta, mode=mode)(v)


def hvp_operator(f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor,
                 mode: str = "rev") -> Callable[[torch.Tensor], torch.Tensor]:
    """Return ``v -> H(theta) v`` for repeated products at one point (see :func:`hvp`).

    In ``"rev"`` mode the gradient graph at ``theta`` is built once and each call is one
    backward pass through it, which is what iterative eigensolvers need.  The returned
    function accepts ``(d,)`` or a batch ``(k, d)`` of vectors.
    """
    f = _check_f(f)
    theta = _check_theta(theta)
    mode = _check_mode(mode)
    if mode == "rev":
        _, vjp_fn = vjp(grad(f), theta)

        def single(v: torch.Tensor) -> torch.Tensor:
            return vjp_fn(v)[0]
    else:
        grad_f = grad(f)

        def single(v: torch.Tensor) -> torch.Tensor:
            return jvp(grad_f, (theta,), (v,))[1]

    batched = vmap(single)

    def apply(v: torch.Tensor) -> torch.Tensor:
        v = _check_vector(v, theta)
        return _check_product(single(v) if v.ndim == 1 else batched(v))

    return apply


def model_loss_fn(model: nn.Module, loss_fn: Callable[..., torch.Tensor], X: torch.Tensor,
                  y: torch.Tensor, dtype: torch.dtype | None = None
                  ) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor]:
    """Turn a model and a loss into a function of the flat parameter vector.

    :math:`f(\\theta) = \\ell(\\mathrm{model}_\\theta(X), y)`, where :math:`\\theta` concatenates the
    model's trainable parameters (``requires_grad=True``) in ``named_parameters()`` order; the
    model is called with ``torch.func.functional_call``, so its own weights are not modified.

    Parameters
    ----------
    model : torch.nn.Module
        Used in its current mode.  Put models with BatchNorm/dropout in ``eval()`` mode: a
        training-mode BatchNorm would update running statistics inside the transforms.
    loss_fn : callable
        ``loss_fn(output, y) -> 0-d tensor``, e.g. ``torch.nn.functional.cross_entropy``.
    X, y : tensors
        The data the loss is evaluated on (the full batch).
    dtype : torch dtype, optional
        If given (e.g. ``torch.float64`` for accurate eigenvalues), a copy of the model and the
        floating-point data are cast to it.

    Returns
    -------
    f : callable
        ``f(theta) -> 0-d tensor``.
    theta0 : tensor, shape (d,)
        The model's current parameters, flattened (a copy).

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``, ``loss_fn`` is not callable, ``X``/``y`` are
        not tensors, or ``dtype`` is not a floating torch dtype.
    ValueError
        If ``model`` has no trainable parameters.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {describe(loss_fn)}")
    if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"X and y must be tensors, got {type(X).__name__} and {type(y).__name__}")
    if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating torch dtype such as torch.float64, got {describe(dtype)}")
    if dtype is not None:
        model = copy.deepcopy(model).to(dtype)
        X = X.to(dtype) if X.is_floating_point() else X
        y = y.to(dtype) if y.is_floating_point() else y
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("model has no trainable parameters")
    names = [n for n, _ in named]
    shapes = [p.shape for _, p in named]
    sizes = [p.numel() for _, p in named]
    # frozen parameters and buffers are passed as constants
    constants = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
    constants.update(dict(model.named_buffers()))
    theta0 = torch.cat([p.detach().reshape(-1) for _, p in named]).clone()

    def f(theta: torch.Tensor) -> torch.Tensor:
        chunks = torch.split(theta, sizes)
        params = {n: c.view(s) for n, c, s in zip(names, chunks, shapes)}
        params.update(constants)
        return loss_fn(functional_call(model, params, (X,)), y)

    return f, theta0


# -- dense Hessian -----------------------------------------------------------------------------

def hessian_dense(f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor) -> torch.Tensor:
    """The full Hessian :math:`H_{ij} = \\partial_i\\partial_j f(\\theta)`, symmetrised, for small ``d``.

    Computed with ``torch.func.hessian`` (forward over reverse); the result is replaced by
    :math:`(H + H^\\top)/2` to remove round-off asymmetry.  Memory is :math:`O(d^2)`.

    Returns
    -------
    tensor, shape (d, d)

    Raises
    ------
    TypeError, ValueError
        As :func:`hvp` for ``f`` and ``theta``; ValueError if the Hessian is not finite.
    """
    f = _check_f(f)
    theta = _check_theta(theta)
    H = _check_product(torch.func.hessian(f)(theta))
    return 0.5 * (H + H.T)


# -- largest eigenvalue ------------------------------------------------------------------------

def _unit(x: np.ndarray | torch.Tensor):
    return x / (np.linalg.norm(x) if isinstance(x, np.ndarray) else torch.linalg.vector_norm(x))


def lambda_max(f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, tol: float = 1e-6,
               seed: int = 0, maxiter: int | None = None, ncv: int | None = None,
               mode: str = "rev") -> EigResult:
    """Largest (algebraic) eigenvalue of :math:`H(\\theta)` by Lanczos, counting Hessian-vector products.

    Runs ``scipy.sparse.linalg.eigsh(k=1, which='LA')`` (implicitly restarted Lanczos,
    Lanczos 1950; ARPACK) on a ``LinearOperator`` whose ``matvec`` is :func:`hvp`.  The start
    vector is a seeded standard normal vector.  Products are evaluated in ``theta``'s dtype and
    returned to ARPACK in float64; use a float64 ``theta`` (and :func:`model_loss_fn` with
    ``dtype=torch.float64``) for accurate eigenvalues.  For :math:`d \\le 2` the Hessian is
    formed from :math:`d` products and diagonalised directly.

    Parameters
    ----------
    f, theta : see :func:`hvp`
    tol : float, default 1e-6
        ARPACK's relative accuracy (``0`` = machine precision).
    seed : int, default 0
        Seed of the start vector.
    maxiter, ncv : int, optional
        Passed to ``eigsh`` (restarts, Lanczos basis size).
    mode : {"rev", "fwd"}
        How the products are computed (:func:`hvp`).

    Returns
    -------
    EigResult
        ``(eigenvalue, eigenvector, num_hvp, converged)``; the eigenvector has unit norm,
        ``num_hvp`` is the number of ``matvec`` calls and ``converged`` is True (ARPACK raises when
        it does not converge).  A zero Hessian (``f`` linear near ``theta``) has
        :math:`\\lambda_{\\max} = 0`: the result is ``0.0`` with the unit start vector, where ARPACK
        itself would stop with error -9 ("starting vector is zero").

    Raises
    ------
    TypeError
        ``f`` not callable, ``theta`` not a float tensor or array of real numbers, ``tol``,
        ``seed``, ``maxiter`` or ``ncv`` of the wrong type (a string, a bool, ``None``).
    ValueError
        Bad ``theta`` shape or values, unknown ``mode``, negative or non-finite ``tol``, negative
        ``seed``, ``maxiter`` below 1, ``ncv`` below 2, or a Hessian that is not finite.
    scipy.sparse.linalg.ArpackNoConvergence
        If ARPACK does not converge within ``maxiter`` restarts.

    Examples
    --------
    >>> import torch
    >>> f = lambda x: 0.5 * (torch.tensor([3.0, 1.0, -4.0], dtype=torch.float64) * x * x).sum()
    >>> round(lambda_max(f, torch.zeros(3, dtype=torch.float64)).eigenvalue, 6)
    3.0
    >>> lambda_max(lambda x: x.sum(), torch.ones(5)).eigenvalue
    0.0
    """
    tol = check_nonnegative(tol, "tol")
    seed = _check_seed(seed)
    if maxiter is not None:
        maxiter = check_int_at_least(maxiter, 1, "maxiter")
    if ncv is not None:
        ncv = check_int_at_least(ncv, 2, "ncv")
    op = hvp_operator(f, theta, mode=mode)
    theta = _check_theta(theta)
    d = theta.numel()
    count = 0

    def matvec(x: np.ndarray) -> np.ndarray:
        nonlocal count
        count += 1
        v = torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(-1), dtype=theta.dtype,
                            device=theta.device)
        return op(v).detach().cpu().to(torch.float64).numpy()

    if d <= 2:  # ARPACK needs k < d; form H from d products instead
        H = np.column_stack([matvec(e) for e in np.eye(d)])
        w, V = np.linalg.eigh(0.5 * (H + H.T))
        vec = V[:, -1]
        return EigResult(float(w[-1]), torch.as_tensor(vec, dtype=theta.dtype), count)

    v0 = np.random.default_rng(seed).standard_normal(d)
    A = LinearOperator((d, d), matvec=matvec, dtype=np.float64)
    try:
        w, V = eigsh(A, k=1, which="LA", tol=tol, v0=v0, maxiter=maxiter, ncv=ncv)
    except ArpackError as err:
        # A zero H makes ARPACK stop with error -9 ("starting vector is zero": H v0 = 0 left nothing to
        # expand). For a seeded Gaussian v0, H v0 = 0 happens (with probability 1) only for H = 0; one product
        # confirms it. Other ARPACK errors, and ArpackNoConvergence, pass on unchanged.
        if isinstance(err, ArpackNoConvergence) or np.any(matvec(v0)):
            raise
        vec = _unit(v0)
        return EigResult(0.0, torch.as_tensor(vec, dtype=theta.dtype, device=theta.device), count)
    vec = _unit(V[:, 0])
    return EigResult(float(w[0]), torch.as_tensor(vec, dtype=theta.dtype, device=theta.device), count)


def _power_iteration(op: Callable[[torch.Tensor], torch.Tensor], v: torch.Tensor, tol: float,
                     max_iter: int, shift: float = 0.0) -> EigResult:
    """PyHessian's power iteration on :math:`H - \\text{shift}\\,I` from the unit vector ``v``.

    ``converged`` is True when the tolerance rule stopped the loop and the last residual
    :math:`r = Hv - \\lambda v` satisfies :math:`\\lVert r\\rVert \\le \\sqrt{\\rm tol}\\,\\lVert Hv\\rVert`.
    Why the square root: for symmetric :math:`H` the Rayleigh quotient is within
    :math:`\\lVert r\\rVert^2/\\delta` of an eigenvalue, :math:`\\delta` the gap to the rest of the spectrum
    (the Kato-Temple inequality, Kato 1949), so this residual means a relative
    error of about ``tol`` when the gap is comparable to :math:`|\\lambda|`.  The tolerance rule alone is fooled
    by a slowly rotating vector: on the spectrum (2, ..., -1.9) the quotient crawls and the rule stops on a
    mixture of two eigenvectors.
    """
    eig = None
    count = 0
    stopped = False
    v_prev, Hv = v, None
    for _ in range(max_iter):
        Hv = op(v)
        if shift != 0.0:
            Hv = Hv - shift * v
        count += 1
        new = float(torch.dot(Hv, v))
        norm = torch.linalg.vector_norm(Hv)
        if float(norm) == 0.0:  # v in the null space: eigenvalue 0, exactly
            eig = 0.0
            return EigResult(eig, v, count, True)
        v_prev, v = v, Hv / norm
        if eig is not None and abs(new - eig) / (abs(eig) + 1e-6) < tol:
            eig = new
            stopped = True
            break
        eig = new
    residual = torch.linalg.vector_norm(Hv - eig * v_prev) / torch.linalg.vector_norm(Hv)
    return EigResult(float(eig), v, count, stopped and float(residual) <= math.sqrt(tol))


def lambda_max_power(f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, tol: float = 1e-3,
                     max_iter: int = 100, seed: int = 0, mode: str = "rev") -> EigResult:
    """Largest eigenvalue of :math:`H(\\theta)` by power iteration, as PyHessian does it, shifted when needed.

    Following Yao et al. (2020), ``pyhessian/hessian.py``: start from a seeded unit normal
    vector :math:`v`; repeat :math:`\\lambda \\leftarrow v^\\top H v`,
    :math:`v \\leftarrow Hv/\\lVert Hv\\rVert` and stop when
    :math:`|\\lambda_{\\rm new}-\\lambda_{\\rm old}| / (|\\lambda_{\\rm old}|+10^{-6}) < {\\rm tol}`
    or after ``max_iter`` products.  This finds the eigenvalue of largest *magnitude*
    :math:`\\lambda_d`, and converges at rate :math:`|\\lambda_{d-1}/\\lambda_d|` (slow for clustered
    spectra).  When that eigenvalue is negative it is :math:`\\lambda_{\\min}`, not
    :math:`\\lambda_{\\max}`; we then run the iteration again, from the same start vector, on
    :math:`H - \\lambda_d I`, whose eigenvalues :math:`\\lambda_i - \\lambda_d \\ge 0` have the largest one
    at :math:`\\lambda_{\\max} - \\lambda_d` (the power method with a shift; Golub & Van Loan,
    *Matrix Computations*), and return :math:`\\lambda_{\\max}`.  When the first eigenvalue is >= 0 the result is
    PyHessian's, product for product.

    Parameters
    ----------
    f, theta, mode : see :func:`hvp`
    tol : float, default 1e-3
        Relative change of :math:`\\lambda` that stops the iteration (> 0).
    max_iter : int, default 100
        Largest number of products of each of the (at most two) runs.
    seed : int, default 0
        Seed of the start vector.

    Returns
    -------
    EigResult
        ``(eigenvalue, eigenvector, num_hvp, converged)``.  ``num_hvp`` counts the products of both
        runs.  ``converged`` is False when the (last) run hit ``max_iter``, or stopped on ``tol`` with
        a residual :math:`\\lVert Hv - \\lambda v\\rVert > \\sqrt{\\rm tol}\\,\\lVert Hv\\rVert` (see
        ``_power_iteration``): then :math:`v` is not yet an eigenvector and :math:`\\lambda` not yet
        an eigenvalue; use :func:`lambda_max`.

    Raises
    ------
    TypeError, ValueError
        Bad ``f``, ``theta``, ``mode``, ``tol <= 0``, ``max_iter < 1`` or negative ``seed``,
        ValueError for a Hessian that is not finite.

    Examples
    --------
    >>> import torch
    >>> f = lambda x: 0.5 * (torch.tensor([3.0, 1.0, -4.0], dtype=torch.float64) * x * x).sum()
    >>> res = lambda_max_power(f, torch.zeros(3, dtype=torch.float64), tol=1e-10, max_iter=1000)
    >>> round(res.eigenvalue, 6), res.converged
    (3.0, True)
    """
    tol = check_positive(tol, "tol")
    max_iter = check_int_at_least(max_iter, 1, "max_iter")
    seed = _check_seed(seed)
    op = hvp_operator(f, theta, mode=mode)
    theta = _check_theta(theta)
    rng = np.random.default_rng(seed)
    v0 = _unit(torch.as_tensor(rng.standard_normal(theta.numel()), dtype=theta.dtype, device=theta.device))
    first = _power_iteration(op, v0, tol, max_iter)
    if first.eigenvalue >= 0.0:
        return first
    shifted = _power_iteration(op, v0, tol, max_iter, shift=first.eigenvalue)
    return EigResult(shifted.eigenvalue + first.eigenvalue, shifted.eigenvector,
                     first.num_hvp + shifted.num_hvp, shifted.converged)


# -- trace -------------------------------------------------------------------------------------

def hessian_trace(f: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor, num_probes: int = 100,
                  seed: int = 0, batch_size: int = 16, mode: str = "rev") -> TraceResult:
    """Hutchinson's estimate of :math:`\\operatorname{tr} H(\\theta)` with Rademacher probes.

    :math:`\\widehat{\\operatorname{tr}} = \\frac1N\\sum_{k=1}^N z_k^\\top H z_k` with
    :math:`z_k \\in \\{-1,1\\}^d` uniform, which is unbiased since :math:`\\mathbb{E}[zz^\\top]=I`
    (Hutchinson 1990); the standard error is the sample standard deviation of
    :math:`z_k^\\top H z_k` over :math:`\\sqrt N`.  Its variance is
    :math:`2\\sum_{i\\ne j} H_{ij}^2`, so the estimate is exact for diagonal :math:`H`.

    Parameters
    ----------
    f, theta, mode : see :func:`hvp`
    num_probes : int, default 100
        Number of probes :math:`N \\ge 1` (= Hessian-vector products).
    seed : int, default 0
        Seed of the probes (numpy ``default_rng``).
    batch_size : int, default 16
        Probes evaluated together with ``vmap`` (memory vs speed).

    Returns
    -------
    TraceResult
        ``(estimate, stderr, num_hvp)``; ``stderr`` is ``nan`` when ``num_probes == 1``.

    Raises
    ------
    TypeError, ValueError
        Bad ``f``, ``theta``, ``mode``, ``num_probes < 1``, ``batch_size < 1`` or negative ``seed``
        (TypeError for the wrong kind of argument, see :func:`hvp`).
    """
    num_probes = check_int_at_least(num_probes, 1, "num_probes")
    batch_size = check_int_at_least(batch_size, 1, "batch_size")
    seed = _check_seed(seed)
    op = hvp_operator(f, theta, mode=mode)
    theta = _check_theta(theta)
    rng = np.random.default_rng(seed)
    Z = rng.choice(np.array([-1.0, 1.0]), size=(num_probes, theta.numel()))
    Z = torch.as_tensor(Z, dtype=theta.dtype, device=theta.device)
    samples = []
    for start in range(0, num_probes, batch_size):
        Zb = Z[start:start + batch_size]
        samples.append((op(Zb) * Zb).sum(dim=1))
    s = torch.cat(samples).detach().to(torch.float64).cpu()
    est = float(s.mean())
    stderr = float(s.std(unbiased=True) / math.sqrt(num_probes)) if num_probes > 1 else math.nan
    return TraceResult(est, stderr, num_probes)
