"""Part II, question 1 (the review's §3.1): what objective does SAM solve?

Three studies, one per claim of the page ``book/oq_sam_objective.ipynb``:

- :func:`penalty_gap` and :func:`penalty_gap_network`: the distance between SAM's update direction
  :math:`\\nabla L(\\theta + \\rho\\hat g)` and the gradient of the penalised loss
  :math:`\\nabla(L + \\rho\\lVert\\nabla L\\rVert) = \\nabla L + \\rho\\,\\nabla^2 L\\,\\hat g` (Zhao, Zhang & Hu 2022);
- :func:`three_points_1d`: the minimiser of the worst loss over the ball, SAM's end points and the minimiser of
  the Gaussian-smoothed loss (the review's §3.1) on 1-D landscapes with several minima, and
  :func:`three_points_2d` the same on two-parameter losses such as the network :func:`scalar_linear_net`;
- :func:`ascent_steps_run`: a recorded-sweep run function (:mod:`samlib.sweeps`) training MLPs on the digits
  with SAM whose inner maximisation takes ``k`` projected ascent steps (Foret et al. 2021;
  Andriushchenko & Flammarion 2022).

The ascent direction everywhere is :func:`samlib.ascent.ascent_direction` (or its batched form
:func:`samlib.ascent.ascent_scale`), with its zero-gradient rule.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp
import torch

from .._validation import check_finite_array, check_int_at_least, check_nonnegative, check_positive
from ..ascent import ascent_direction, ascent_scale
from ..bounds import sam_noise_scale
from ..data import load_digits_split, train_validation_split
from ..landscapes import Landscape, from_sympy
from ..nets import init_stacked_mlp, mlp_grad, stacked_loss_and_accuracy
from ..smoothing import minimax_minimiser_1d, minimax_minimiser_2d, smoothed_minimiser
from ..sweeps import run_sweep
from .dynamics import run_batch

__all__ = [
    "two_wells_1d",
    "penalty_gap",
    "penalty_gap_network",
    "three_points_1d",
    "scalar_linear_net",
    "three_points_2d",
    "ascent_steps_run",
    "ascent_steps_configs",
    "ASCENT_STORE_NAME",
    "ASCENT_PROTOCOL",
    "ascent_steps_data",
    "record_ascent_steps",
]


# ----------------------------------------------------------------------------------------
# Landscapes
# ----------------------------------------------------------------------------------------
def two_wells_1d(depth_sharp: float = 1.0, width_sharp: float = 0.05, depth_flat: float = 0.8,
                 width_flat: float = 0.3, flat_at: float = 1.0) -> Landscape:
    """Two Gaussian wells: a deep sharp one at 0 and a shallower flat one at ``flat_at``.

    .. math:: f(x) = -a\\,e^{-x^2/(2s_a^2)} - b\\,e^{-(x-m)^2/(2s_b^2)}

    With the defaults the sharp well is the deeper (global) minimum and the flat one a local minimum: the
    three objectives of the review's §3.1 can then disagree on which minimum to prefer.
    """
    a = check_positive(depth_sharp, "depth_sharp")
    sa = check_positive(width_sharp, "width_sharp")
    b = check_positive(depth_flat, "depth_flat")
    sb = check_positive(width_flat, "width_flat")
    m = check_positive(flat_at, "flat_at")
    x = sp.Symbol("x", real=True)
    q = sp.Rational
    expr = (-q(repr(a)) * sp.exp(-x**2 / (2 * q(repr(sa))**2))
            - q(repr(b)) * sp.exp(-(x - q(repr(m)))**2 / (2 * q(repr(sb))**2)))
    return from_sympy("two_wells_1d", expr, (x,), params=dict(depth_sharp=a, width_sharp=sa, depth_flat=b,
                                                             width_flat=sb, flat_at=m),
                      minima=([0.0], [m]),
                      description="two Gaussian wells: deep and sharp at 0, shallow and flat at m")


# ----------------------------------------------------------------------------------------
# q1-gradient-norm-penalty
# ----------------------------------------------------------------------------------------
def penalty_gap(fn: Landscape, theta: Any, rhos: Any) -> tuple[np.ndarray, np.ndarray]:
    """Distance between SAM's direction and the gradient of :math:`L + \\rho\\lVert\\nabla L\\rVert`.

    .. math::

        \\Delta(\\rho) = \\bigl\\lVert \\nabla L(\\theta + \\rho\\hat g) - \\bigl(\\nabla L(\\theta)
        + \\rho\\,\\nabla^2 L(\\theta)\\,\\hat g\\bigr)\\bigr\\rVert, \\qquad \\hat g = \\nabla L/\\lVert\\nabla L\\rVert,

    since :math:`\\nabla\\lVert\\nabla L\\rVert = \\nabla^2 L\\,\\hat g` where :math:`\\nabla L \\ne 0`. Taylor's
    theorem gives :math:`\\Delta = \\tfrac12\\rho^2\\lVert\\nabla^3 L[\\hat g, \\hat g]\\rVert + O(\\rho^3)`.
    Also returned: :math:`\\lVert\\nabla L(\\theta+\\rho\\hat g) - \\nabla L(\\theta)\\rVert`, the size of SAM's
    correction to GD, which is :math:`O(\\rho)`.

    Parameters
    ----------
    fn : Landscape
    theta : array_like, shape (d,)
        A point with non-zero gradient (at a zero gradient the penalty is not differentiable and
        :math:`\\hat g = 0` by the book's rule; both outputs are then 0).
    rhos : array_like, shape (m,)
        Radii :math:`\\rho \\ge 0`.

    Returns
    -------
    (gap, correction) : numpy.ndarray, shape (m,) each
    """
    if not isinstance(fn, Landscape):
        raise TypeError(f"fn must be a Landscape, got {type(fn).__name__}")
    t = np.asarray(check_finite_array(theta, "theta", ndim=1), dtype=float)
    r = np.asarray(check_finite_array(rhos, "rhos", ndim=1), dtype=float)
    if np.any(r < 0):
        raise ValueError(f"rhos must be >= 0, got min {float(r.min())!r}")
    g = fn.grad(t)
    u = ascent_direction(g, 1.0)
    Hu = fn.hessian(t) @ u
    pts = t[None, :] + r[:, None] * u[None, :]
    gs = fn.grad(pts)
    gap = np.linalg.norm(gs - (g[None, :] + r[:, None] * Hu[None, :]), axis=1)
    corr = np.linalg.norm(gs - g[None, :], axis=1)
    return gap, corr


def penalty_gap_network(rhos: Any, *, n_samples: int = 200, hidden: int = 16, seed: int = 0,
                        points: int = 5, activation: str = "relu") -> tuple[np.ndarray, np.ndarray]:
    """:func:`penalty_gap` for the mean cross-entropy of a small MLP on the digits (float64, autograd).

    The loss of a ``64 -> hidden -> 10`` MLP (``activation`` ``"relu"`` or the smooth ``"tanh"``) on
    ``n_samples`` training digits; the Hessian-vector product
    :math:`\\nabla^2 L\\,\\hat g` by double back-propagation. Evaluated at ``points`` parameter vectors:
    the initialisation of seed ``seed + i`` moved by 20 SGD steps (so the gradient is typical of training).

    A ReLU network's gradient jumps where a pre-activation changes sign, so its loss is not twice
    differentiable there and the Taylor argument of :func:`penalty_gap` does not apply; ``"tanh"`` gives a
    smooth loss.

    Returns
    -------
    (gap, correction) : numpy.ndarray, shape (m, points) each
    """
    r = np.asarray(check_finite_array(rhos, "rhos", ndim=1), dtype=float)
    n_samples = check_int_at_least(n_samples, 1, "n_samples")
    hidden = check_int_at_least(hidden, 1, "hidden")
    points = check_int_at_least(points, 1, "points")
    acts = {"relu": torch.relu, "tanh": torch.tanh}
    if activation not in acts:
        raise ValueError(f"activation must be 'relu' or 'tanh', got {activation!r}")
    act = acts[activation]
    X, y, _, _ = load_digits_split(n_train=n_samples, seed=seed)
    X = torch.as_tensor(np.asarray(X), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    d_in = X.shape[1]
    sizes = [(d_in, hidden), (hidden,), (hidden, 10), (10,)]
    n_par = sum(int(np.prod(s)) for s in sizes)

    def loss(w: torch.Tensor) -> torch.Tensor:
        parts, i = [], 0
        for s in sizes:
            k = int(np.prod(s))
            parts.append(w[i:i + k].reshape(s))
            i += k
        h = act(X @ parts[0] + parts[1])
        return torch.nn.functional.cross_entropy(h @ parts[2] + parts[3], y)

    def grad(w: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        w = w.detach().requires_grad_(True) if not create_graph else w
        return torch.autograd.grad(loss(w), w, create_graph=create_graph)[0]

    gaps, corrs = np.empty((r.size, points)), np.empty((r.size, points))
    for p in range(points):
        gen = torch.Generator().manual_seed(seed + p)
        w = (torch.rand(n_par, generator=gen, dtype=torch.float64) * 2 - 1) / np.sqrt(d_in)
        for _ in range(20):
            w = w - 0.5 * grad(w)
        w = w.detach().requires_grad_(True)
        g = grad(w, create_graph=True)
        u = ascent_direction(g.detach(), 1.0)
        Hu = torch.autograd.grad(g @ u, w)[0]
        g = g.detach()
        for i, rho in enumerate(r):
            gs = grad(w.detach() + rho * u)
            gaps[i, p] = float(torch.linalg.vector_norm(gs - g - rho * Hu))
            corrs[i, p] = float(torch.linalg.vector_norm(gs - g))
    return gaps, corrs


# ----------------------------------------------------------------------------------------
# q1-three-problems
# ----------------------------------------------------------------------------------------
def three_points_1d(fn: Landscape, rho: float, *, lr: float, lo: float, hi: float, n: int = 1000,
                    num_starts: int = 201, num_steps: int = 20_000, grid: int = 400_001) -> dict[str, Any]:
    """The three points of the review's §3.1 on a 1-D landscape with several minima.

    - ``minimax``: the minimiser of :math:`\\max_{|\\epsilon|\\le\\rho} f(x+\\epsilon)` over ``[lo, hi]``
      (:func:`samlib.smoothing.minimax_minimiser_1d`, resolution ``(hi - lo)/(grid - 1)``);
    - ``smoothed``: the minimiser of :math:`\\mathbb E f(x + \\sigma z)` with the noise level of the proof of
      Theorem 1 for one parameter and ``n`` samples, :math:`\\sigma = \\rho/(1 + \\sqrt{\\log n})`
      (:func:`samlib.bounds.sam_noise_scale`);
    - ``sam``: the end points of SAM (constant ``lr`` and ``rho``, ``num_steps`` steps) from ``num_starts``
      starts spread evenly over ``[lo, hi]``: the centre of the final two-cycle (or fixed point) of each run.
      ``sam_point`` is the median centre of the runs that end in the most frequent basin.

    Each end point is assigned to the nearest of ``fn.minima`` (its *basin* here).

    Returns
    -------
    dict
        ``minimax``, ``smoothed``, ``sam_point`` (floats), ``sigma``, ``sam_fractions`` (fraction of runs
        ending nearest each minimum, in the order of ``fn.minima``; diverged runs are left out),
        ``sam_diverged`` (fraction), ``sam_spread`` (largest distance of a centre in the main basin from
        ``sam_point``), ``preferred`` (index of the minimum nearest each of the three points) and
        ``resolution`` (grid spacing).
    """
    if not isinstance(fn, Landscape) or fn.dim != 1 or not fn.minima:
        raise ValueError("fn must be a 1-D Landscape with known minima")
    rho = check_positive(rho, "rho")
    lr = check_positive(lr, "lr")
    mins = np.array([float(np.ravel(m)[0]) for m in fn.minima])
    x_mm, _ = minimax_minimiser_1d(fn.value, lo, hi, rho, num=grid)
    sigma = sam_noise_scale(rho, 1, n)
    cand = np.linspace(lo, hi, 2001)[:, None]
    x_sm = float(smoothed_minimiser(fn.value, sigma, cand)[0][0])
    starts = np.linspace(lo, hi, check_int_at_least(num_starts, 2, "num_starts"))[:, None]
    run = run_batch(fn.grad, starts, lr, rho, check_int_at_least(num_steps, 2, "num_steps"))
    ok = ~run.diverged
    centres = run.centre[ok, 0]
    basin = np.argmin(np.abs(centres[:, None] - mins[None, :]), axis=1)
    frac = np.array([np.mean(basin == j) if ok.any() else 0.0 for j in range(mins.size)])
    main = int(np.argmax(frac))
    x_sam = float(np.median(centres[basin == main]))

    def near(x: float) -> int:
        return int(np.argmin(np.abs(mins - x)))

    return dict(minimax=x_mm, smoothed=x_sm, sam_point=x_sam, sigma=sigma, sam_fractions=frac,
                sam_diverged=float(np.mean(run.diverged)),
                sam_spread=float(np.max(np.abs(centres[basin == main] - x_sam))),
                preferred=(near(x_mm), near(x_sam), near(x_sm)), resolution=(hi - lo) / (grid - 1))


def scalar_linear_net(c: float = 1.0) -> Landscape:
    """The smallest network with a hidden layer: :math:`x \\mapsto a\\,b\\,x`, fitted to :math:`y = c\\,x`.

    .. math:: L(a, b) = \\mathbb E_x\\big[(a b x - c x)^2\\big] = (a b - c)^2 \\qquad (\\mathbb E x^2 = 1)

    A two-layer linear network of width one with squared loss. Its minima are the hyperbola :math:`ab = c`,
    a valley whose sharpness :math:`\\lambda_{\\max} = 2(a^2 + b^2)` is smallest at the balanced points
    :math:`a = b = \\pm\\sqrt c` (``minima``), the over-parameterised structure (rescaling
    :math:`(a, b) \\to (\\alpha a, b/\\alpha)`) that larger networks share.
    """
    c = check_positive(c, "c")
    a, b = sp.symbols("a b", real=True)
    expr = (a * b - sp.Rational(repr(c))) ** 2
    r = float(np.sqrt(c))
    return from_sympy("scalar_linear_net", expr, (a, b), params=dict(c=c), minima=([r, r], [-r, -r]),
                      description="two-layer scalar linear network x -> a b x fitted to y = c x")


def three_points_2d(fn: Landscape, rho: float, *, lr: float, box: Sequence[float], n: int = 1000,
                    grid: int = 21, num_starts: int = 12, num_steps: int = 20_000) -> dict[str, Any]:
    """The three points of the review's §3.1 on a loss of two parameters.

    - ``minimax``: the minimiser of :math:`\\max_{\\lVert\\epsilon\\rVert\\le\\rho} L(\\theta+\\epsilon)`
      (:func:`samlib.smoothing.minimax_minimiser_2d`, started from a ``grid`` x ``grid`` grid over ``box``);
    - ``smoothed``: the minimiser of :math:`\\mathbb E L(\\theta + \\sigma z)`, :math:`z\\sim\\mathcal N(0, I_2)`,
      at the noise level of the proof of Theorem 1 for two parameters and ``n`` samples,
      :math:`\\sigma = \\rho/(\\sqrt 2 + \\sqrt{\\log n})` (:func:`samlib.smoothing.smoothed_minimiser`);
    - ``sam_centres``: the end points of SAM (constant ``lr`` and ``rho``, ``num_steps`` steps) from a
      ``num_starts`` x ``num_starts`` grid of starts over ``box``: the centre of each run's final two-cycle
      (or fixed point); diverged runs are left out.

    Parameters
    ----------
    fn : Landscape
        A loss of two parameters.
    rho, lr : float
        Radius and SAM's learning rate (> 0).
    box : sequence of 4 floats
        ``(a_lo, a_hi, b_lo, b_hi)``, the region of the grids and of the starts.

    Returns
    -------
    dict
        ``minimax``, ``smoothed`` (arrays of shape (2,)), ``minimax_value``, ``sigma``, ``sam_centres``
        (shape (m, 2)), ``sam_diverged`` (fraction), ``sam_cycle`` (median distance between the last two
        iterates: 0 for a fixed point).
    """
    if not isinstance(fn, Landscape) or fn.dim != 2:
        raise ValueError("fn must be a Landscape of two parameters")
    rho = check_positive(rho, "rho")
    lr = check_positive(lr, "lr")
    lo_a, hi_a, lo_b, hi_b = (float(v) for v in check_finite_array(box, "box", ndim=1))
    if not (lo_a < hi_a and lo_b < hi_b):
        raise ValueError(f"box must be (a_lo, a_hi, b_lo, b_hi) with lo < hi, got {box!r}")

    def mesh(k: int) -> np.ndarray:
        A, B = np.meshgrid(np.linspace(lo_a, hi_a, k), np.linspace(lo_b, hi_b, k), indexing="ij")
        return np.stack([A.ravel(), B.ravel()], axis=1)

    cand = mesh(check_int_at_least(grid, 2, "grid"))
    x_mm, v_mm = minimax_minimiser_2d(fn.value, cand, rho)
    sigma = sam_noise_scale(rho, 2, n)
    x_sm, _ = smoothed_minimiser(fn.value, sigma, cand)
    run = run_batch(fn.grad, mesh(check_int_at_least(num_starts, 2, "num_starts")), lr, rho,
                    check_int_at_least(num_steps, 2, "num_steps"))
    ok = ~run.diverged
    return dict(minimax=x_mm, minimax_value=v_mm, smoothed=x_sm, sigma=sigma, sam_centres=run.centre[ok],
                sam_diverged=float(np.mean(run.diverged)),
                sam_cycle=float(np.median(run.step_size[ok])) if ok.any() else float("nan"))


# ----------------------------------------------------------------------------------------
# q1-more-ascent-steps: a recorded-sweep run function
# ----------------------------------------------------------------------------------------
#: Folder of the recorded runs under ``book/data/open_questions``.
ASCENT_STORE_NAME = "ascent_steps"


#: The fixed part of the protocol: training images per split, held out for validation, hidden width, batch.
ASCENT_PROTOCOL = {"n_train": 1000, "n_val": 200, "hidden": 64, "batch": 10}


def ascent_steps_data(split: int) -> tuple[np.ndarray, ...]:
    """``X_fit, y_fit, X_val, y_val, X_test, y_test`` of one split of the digits for the ascent-steps study."""
    split = check_int_at_least(split, 0, "split")
    X, y, X_te, y_te = load_digits_split(n_train=ASCENT_PROTOCOL["n_train"], seed=split)
    X_fit, y_fit, X_val, y_val = train_validation_split(X, y, n_val=ASCENT_PROTOCOL["n_val"], seed=split)
    return X_fit, y_fit, X_val, y_val, X_te, y_te


def ascent_steps_run(config: Mapping[str, Any]) -> dict[str, Any]:
    """Train stacked MLPs (one per seed) on the digits with ``k``-step SAM; final metrics per seed.

    Each step: ``eps_0 = 0``; for ``j = 1..k``: ``g_j`` = minibatch gradient at ``theta + eps_{j-1}``,
    ``eps_j = Pi_rho(eps_{j-1} + alpha g_j/||g_j||)`` with ``alpha = 2.5 rho/k`` (the rule of
    :func:`samlib.ascent.multistep_perturbation`, per member, on one minibatch); then
    ``theta <- theta - lr grad L_B(theta + eps_k)``. ``k = 1`` is SAM. A step costs ``k + 1`` gradients.

    Data: scikit-learn digits, 1000 training images of split ``split`` (800 to fit, 200 for validation),
    797 test images; MLP ``64 -> 64 -> 10``, batch 10, float64. ``config``: ``k``, ``rho``, ``lr``,
    ``steps`` (SAM steps), ``seeds``, ``split``.

    Returns
    -------
    dict
        ``val_loss``, ``val_acc``, ``test_loss``, ``test_acc``, ``train_loss`` (lists, one per seed),
        ``ascent_gain`` (mean over the last 10% of steps of ``L_B(theta + eps_k) - L_B(theta)``, per seed),
        ``grad_evals``.
    """
    k = check_int_at_least(config["k"], 1, "k")
    rho = check_nonnegative(config["rho"], "rho")
    lr = check_positive(config["lr"], "lr")
    steps = check_int_at_least(config["steps"], 1, "steps")
    seeds = [int(s) for s in config["seeds"]]
    split = check_int_at_least(config.get("split", 0), 0, "split")
    torch.set_num_threads(1)
    X, y, X_val, y_val, X_te, y_te = ascent_steps_data(split)
    dt = torch.float64
    X, X_val, X_te = (torch.as_tensor(np.asarray(a), dtype=dt) for a in (X, X_val, X_te))
    y, y_val, y_te = (torch.as_tensor(np.asarray(a), dtype=torch.long) for a in (y, y_val, y_te))
    params = [p.to(dt) for p in init_stacked_mlp([X.shape[1], ASCENT_PROTOCOL["hidden"], 10], seeds)]
    S, n = len(seeds), X.shape[0]
    gens = [np.random.default_rng(10_000 + s) for s in seeds]
    order = [g.permutation(n) for g in gens]
    pos = 0
    alpha = 2.5 * rho / k
    rho_t = torch.full((S,), rho, dtype=dt)
    alpha_t = torch.full((S,), alpha, dtype=dt)
    gains = []
    for t in range(steps):
        if pos + ASCENT_PROTOCOL["batch"] > n:
            order = [g.permutation(n) for g in gens]
            pos = 0
        idx = torch.as_tensor(np.stack([o[pos:pos + ASCENT_PROTOCOL["batch"]] for o in order]))
        pos += ASCENT_PROTOCOL["batch"]
        xb, yb = X[idx], y[idx]
        eps = [torch.zeros_like(p) for p in params]
        loss0 = None
        if rho > 0:
            for j in range(k):
                pert = [p + e for p, e in zip(params, eps)]
                lj, g = mlp_grad(pert, xb, yb)
                if j == 0:
                    loss0 = lj
                gn = torch.sqrt(sum((gi * gi).flatten(1).sum(1) for gi in g))
                c = ascent_scale(gn, alpha_t)  # alpha/||g||, 0 for a zero gradient
                eps = [e + c.view(-1, *([1] * (e.ndim - 1))) * gi for e, gi in zip(eps, g)]
                en = torch.sqrt(sum((e * e).flatten(1).sum(1) for e in eps))
                shrink = torch.where(en > rho_t, rho_t / torch.where(en > 0, en, torch.ones_like(en)),
                                     torch.ones_like(en))
                eps = [e * shrink.view(-1, *([1] * (e.ndim - 1))) for e in eps]
        pert = [p + e for p, e in zip(params, eps)]
        lk, g = mlp_grad(pert, xb, yb)
        if loss0 is not None and t >= steps - max(1, steps // 10):
            gains.append((lk - loss0).numpy())
        params = [p - lr * gi for p, gi in zip(params, g)]
    out: dict[str, Any] = {}
    for name, (Xe, ye) in {"train": (X, y), "val": (X_val, y_val), "test": (X_te, y_te)}.items():
        loss, acc = stacked_loss_and_accuracy(params, Xe, ye)
        out[f"{name}_loss"] = [float(v) for v in loss]
        out[f"{name}_acc"] = [float(v) for v in acc]
    out["ascent_gain"] = [float(v) for v in np.mean(gains, axis=0)] if gains else [0.0] * S
    out["grad_evals"] = steps * ((k + 1) if rho > 0 else 1)
    return out


def ascent_steps_configs(stage: str, *, rho: float | None = None, lr: float = 0.1,
                         seeds: Sequence[int] = (0, 1, 2, 3, 4), splits: Sequence[int] = (0, 1),
                         base_steps: int = 3000, rho_grid: Sequence[float] = (0.03, 0.1, 0.3)
                         ) -> list[dict[str, Any]]:
    """The configurations of the ascent-steps study.

    ``"tune"``: one-step SAM at each radius of ``rho_grid`` (chosen on the validation loss, never on test);
    ``"main"``: ``k = 1, 2, 5`` at the chosen ``rho``, at equal steps (``base_steps``) and at equal
    gradient budget (``2 * base_steps`` gradients: ``2 * base_steps // (k + 1)`` steps).
    """
    seeds = [int(s) for s in seeds]
    base = dict(lr=lr, seeds=seeds)
    if stage == "tune":
        return [dict(base, k=1, rho=float(r), steps=base_steps, split=s) for s in splits for r in rho_grid]
    if stage == "main":
        if rho is None:
            raise ValueError("the main stage needs the chosen rho")
        out = []
        for s in splits:
            for k in (1, 2, 5):
                out.append(dict(base, k=k, rho=float(rho), steps=base_steps, split=s))
                if k > 1:
                    out.append(dict(base, k=k, rho=float(rho), steps=2 * base_steps // (k + 1), split=s))
        return out
    raise ValueError(f"stage must be 'tune' or 'main', got {stage!r}")


def record_ascent_steps(store: str, *, splits: Sequence[int] = (0, 1, 2),
                        rho_grid: Sequence[float] = (0.03, 0.1, 0.3, 1.0), n_jobs: int = 1) -> float:
    """Run (or resume) the ascent-steps sweep into ``store``; returns the radius chosen on validation.

    The tuning stage first, then the main stage at the radius with the lowest mean validation loss of one-step
    SAM (:func:`samlib.sweeps.run_sweep` skips every configuration already recorded).
    ``python -m samlib.studies.oq_objective book/data/open_questions/ascent_steps`` records the book's runs.
    """
    run = "samlib.studies.oq_objective:ascent_steps_run"
    tune = run_sweep(run, ascent_steps_configs("tune", splits=splits, rho_grid=rho_grid), store,
                     n_jobs=n_jobs, progress=False)
    val: dict[float, list[float]] = {}
    for rec in tune:
        val.setdefault(rec["config"]["rho"], []).extend(rec["result"]["val_loss"])
    rho = min(val, key=lambda r: float(np.mean(val[r])))
    run_sweep(run, ascent_steps_configs("main", rho=rho, splits=splits), store, n_jobs=n_jobs, progress=False)
    return rho


if __name__ == "__main__":  # python -m samlib.studies.oq_objective STORE
    import sys

    print("chosen rho:", record_ascent_steps(sys.argv[1]))
