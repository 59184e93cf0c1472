"""Every public samlib function rejects bad input with a ValueError or TypeError that names the bad argument.

TypeError for the wrong kind of argument (None, a string, a bool, an array where a scalar belongs),
ValueError for a bad value of the right kind (see samlib._validation).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from samlib import _validation as V
from samlib import landscapes as L
from samlib.ascent import ascent_direction, gd_step, run_stochastic_trajectory, run_trajectory, sam_step
from samlib.sharpness import sharpness_pga, sharpness_quadratic

GRAD = np.array([1.0, -2.0])
Q = L.quadratic(np.diag([1.0, 2.0]))
ORACLE = lambda x, rng: x + rng.standard_normal(x.shape)  # noqa: E731


def _traj(**kw):
    args = dict(theta0=[1.0, 1.0], grad_f=Q.grad, lr=0.1, rho=0.05, num_steps=3)
    args.update(kw)
    return run_trajectory(**args)


def _sto(**kw):
    args = dict(theta0=[1.0, 1.0], grad_oracle=ORACLE, lr=0.1, rho=0.05, num_steps=3, seed=0)
    args.update(kw)
    return run_stochastic_trajectory(**args)


def _pga(**kw):
    args = dict(f=Q.value, grad_f=Q.grad, theta=np.ones(2), rho=0.1)
    args.update(kw)
    return sharpness_pga(**args)


# (id, call, text the message must contain[, exception type, ValueError if omitted])
CASES = [
    # ascent_direction
    ("ascent-negative-rho", lambda: ascent_direction(GRAD, -0.1), "rho"),
    ("ascent-nan-rho", lambda: ascent_direction(GRAD, float("nan")), "rho"),
    ("ascent-inf-rho", lambda: ascent_direction(GRAD, math.inf), "rho"),
    ("ascent-string-rho", lambda: ascent_direction(GRAD, "big"), "rho", TypeError),
    ("ascent-bool-rho", lambda: ascent_direction(GRAD, True), "rho", TypeError),
    ("ascent-numpy-bool-rho", lambda: ascent_direction(GRAD, np.bool_(False)), "rho", TypeError),
    ("ascent-array-rho", lambda: ascent_direction(GRAD, np.array([0.1, 0.2])), "rho", TypeError),
    ("ascent-complex-rho", lambda: ascent_direction(GRAD, 1j), "rho", TypeError),
    ("ascent-huge-int-rho", lambda: ascent_direction(GRAD, 10**400), "rho"),  # was OverflowError
    ("ascent-string-p", lambda: ascent_direction(GRAD, 0.1, p="2"), "p", TypeError),  # was accepted as 2
    ("ascent-huge-int-p", lambda: ascent_direction(GRAD, 0.1, p=10**400), "p"),
    ("ascent-none-grad", lambda: ascent_direction(None, 0.1), "grad", TypeError),
    ("ascent-string-grad", lambda: ascent_direction("12", 0.1), "grad", TypeError),
    ("ascent-strings-grad", lambda: ascent_direction(["1", "x"], 0.1), "grad", TypeError),
    ("ascent-bool-grad", lambda: ascent_direction(np.array([True, False]), 0.1), "grad", TypeError),
    ("ascent-complex-grad", lambda: ascent_direction(np.array([1j, 1.0]), 0.1), "grad", TypeError),
    ("ascent-ragged-grad", lambda: ascent_direction([[1.0], [1.0, 2.0]], 0.1), "grad"),
    ("ascent-huge-int-grad", lambda: ascent_direction([10**400, 1], 0.1), "grad"),
    ("ascent-p-below-1", lambda: ascent_direction(GRAD, 0.1, p=0.5), "p"),
    ("ascent-p-nan", lambda: ascent_direction(GRAD, 0.1, p=float("nan")), "p"),
    ("ascent-nan-grad", lambda: ascent_direction(np.array([1.0, np.nan]), 0.1), "grad"),
    ("ascent-inf-grad", lambda: ascent_direction(np.array([np.inf, 1.0]), 0.1), "grad"),
    # steps
    ("sam-negative-lr", lambda: sam_step([1.0, 1.0], Q.grad, -0.1, 0.05), "lr"),
    ("sam-negative-rho", lambda: sam_step([1.0, 1.0], Q.grad, 0.1, -0.05), "rho"),
    ("sam-p-zero", lambda: sam_step([1.0, 1.0], Q.grad, 0.1, 0.05, p=0), "p"),
    ("sam-nan-theta", lambda: sam_step([np.nan, 1.0], Q.grad, 0.1, 0.05), "theta"),
    ("sam-grad-wrong-shape", lambda: sam_step([1.0, 1.0], lambda x: np.ones(3), 0.1, 0.05), "shape"),
    ("sam-grad-nan", lambda: sam_step([1.0, 1.0], lambda x: np.array([np.nan, 0.0]), 0.1, 0.05), "grad_f"),
    ("sam-grad-nan-at-perturbed-point",
     lambda: sam_step([1.0, 1.0], lambda x: x if x[0] == 1.0 else x * np.nan, 0.1, 0.05), "theta + epsilon"),
    ("gd-inf-lr", lambda: gd_step([1.0, 1.0], Q.grad, math.inf), "lr"),
    ("gd-grad-f-not-callable", lambda: gd_step([1.0, 1.0], 3.0, 0.1), "grad_f", TypeError),
    ("sam-grad-f-not-callable", lambda: sam_step([1.0, 1.0], None, 0.1, 0.05), "grad_f", TypeError),
    ("sam-grad-f-returns-strings", lambda: sam_step([1.0, 1.0], lambda x: ["a", "b"], 0.1, 0.05), "grad_f",
     TypeError),
    ("sam-bool-theta", lambda: sam_step([True, False], Q.grad, 0.1, 0.05), "theta", TypeError),
    ("gd-grad-wrong-shape", lambda: gd_step([1.0, 1.0], lambda x: np.ones((2, 1)), 0.1), "shape"),
    # trajectories
    ("traj-negative-steps", lambda: _traj(num_steps=-1), "num_steps"),
    ("traj-fractional-steps", lambda: _traj(num_steps=2.5), "num_steps"),
    ("traj-bool-steps", lambda: _traj(num_steps=True), "num_steps", TypeError),
    ("traj-none-steps", lambda: _traj(num_steps=None), "num_steps", TypeError),  # was TypeError without the name
    ("traj-string-steps", lambda: _traj(num_steps="3"), "num_steps", TypeError),  # was accepted as 3
    ("traj-huge-steps", lambda: _traj(num_steps=2**64), "num_steps"),
    ("traj-inf-steps", lambda: _traj(num_steps=math.inf), "num_steps"),
    ("traj-none-lr", lambda: _traj(lr=None), "lr", TypeError),
    ("traj-numpy-bool-rho", lambda: _traj(rho=np.bool_(True)), "rho", TypeError),
    ("traj-schedule-returns-string", lambda: _traj(lr=lambda t: "0.1"), "lr(t=0)", TypeError),
    ("traj-f-not-callable", lambda: _traj(f=3.0), "f", TypeError),
    ("traj-f-returns-string", lambda: _traj(f=lambda x: "low"), "f(theta)", TypeError),
    ("traj-grad-f-not-callable", lambda: _traj(grad_f="Q.grad"), "grad_f", TypeError),
    ("traj-method-array", lambda: _traj(method=np.array(["sam"])), "method"),
    ("traj-string-theta0", lambda: _traj(theta0="1,1"), "theta0", TypeError),
    ("traj-bad-method", lambda: _traj(method="adam"), "method"),
    ("traj-negative-lr", lambda: _traj(lr=-1.0), "lr"),
    ("traj-schedule-goes-negative", lambda: _traj(lr=lambda t: 0.1 - 0.1 * t), "lr(t=2)"),
    ("traj-schedule-nan-rho", lambda: _traj(rho=lambda t: float("nan")), "rho(t=0)"),
    ("traj-matrix-theta0", lambda: _traj(theta0=np.ones((2, 2))), "theta0"),
    ("traj-inf-theta0", lambda: _traj(theta0=[np.inf, 0.0]), "theta"),
    ("traj-p-below-1", lambda: _traj(p=0.9), "p"),
    ("traj-bad-on-nonfinite", lambda: _traj(on_nonfinite="ignore"), "on_nonfinite"),
    ("traj-diverges", lambda: _traj(lr=10.0, num_steps=2000), "diverged"),
    ("traj-old-name-eta", lambda: _traj(eta=0.1), "eta", TypeError),  # renamed lr (issue 13)
    ("sto-negative-seed", lambda: _sto(seed=-1), "seed"),
    ("sto-fractional-seed", lambda: _sto(seed=1.5), "seed"),  # was truncated to 1 by some callers
    ("sto-string-seed", lambda: _sto(seed="0"), "seed", TypeError),
    ("sto-huge-seed", lambda: _sto(seed=10**400), "seed"),
    ("sto-oracle-not-callable", lambda: _sto(grad_oracle=None), "grad_oracle", TypeError),
    ("sto-same-noise-string", lambda: _sto(same_noise="no"), "same_noise", TypeError),
    ("sto-negative-rho", lambda: _sto(rho=-0.5), "rho"),
    ("sto-oracle-wrong-shape", lambda: _sto(grad_oracle=lambda x, rng: np.ones(5)), "shape"),
    ("sto-bad-method", lambda: _sto(method="sgd"), "method"),
    # sharpness_quadratic
    ("sq-nonsymmetric", lambda: sharpness_quadratic([[1.0, 2.0], [0.0, 1.0]], [0.0, 0.0], 0.1), "symmetric"),
    ("sq-nonsquare", lambda: sharpness_quadratic(np.ones((2, 3)), [0.0, 0.0], 0.1), "square"),
    ("sq-1d-A", lambda: sharpness_quadratic(np.ones(2), [0.0, 0.0], 0.1), "A"),
    ("sq-nan-A", lambda: sharpness_quadratic([[np.nan, 0.0], [0.0, 1.0]], [0.0, 0.0], 0.1), "A"),
    ("sq-g-length", lambda: sharpness_quadratic(np.eye(2), [0.0, 0.0, 0.0], 0.1), "g"),
    ("sq-g-matrix", lambda: sharpness_quadratic(np.eye(2), np.zeros((2, 1)), 0.1), "g"),
    ("sq-inf-g", lambda: sharpness_quadratic(np.eye(2), [np.inf, 0.0], 0.1), "g"),
    ("sq-negative-rho", lambda: sharpness_quadratic(np.eye(2), [0.0, 0.0], -1.0), "rho"),
    # sharpness_pga
    ("pga-negative-rho", lambda: _pga(rho=-0.1), "rho"),
    ("pga-zero-restarts", lambda: _pga(num_restarts=0), "num_restarts"),
    ("pga-negative-steps", lambda: _pga(num_steps=-5), "num_steps"),
    ("pga-zero-step-size", lambda: _pga(step_size=0.0), "step_size"),
    ("pga-p-three", lambda: _pga(p=3), "p"),
    ("pga-negative-seed", lambda: _pga(seed=-2), "seed"),
    ("pga-nan-theta", lambda: _pga(theta=[np.nan, 0.0]), "theta"),
    ("pga-nonfinite-f", lambda: _pga(f=lambda x: math.inf), "f(theta)"),
    ("pga-grad-wrong-shape", lambda: _pga(grad_f=lambda x: np.ones(3)), "shape"),
    # landscapes
    ("ls-quadratic-nonsymmetric", lambda: L.quadratic([[1.0, 1.0], [0.0, 1.0]]), "symmetric"),
    ("ls-quadratic-nonsquare", lambda: L.quadratic(np.ones((3, 2))), "square"),
    ("ls-quadratic-nan", lambda: L.quadratic([[np.nan]]), "A"),
    ("ls-review-1d-zero-c", lambda: L.review_1d(c=0.0), "c"),
    ("ls-review-1d-negative-c", lambda: L.review_1d(c=-1e-4), "c"),
    ("ls-rosenbrock-negative-b", lambda: L.rosenbrock(b=-1.0), "b"),
    ("ls-sines-zero-dim", lambda: L.sines_quadratic(dim=0), "dim"),
    ("ls-double-well-nan-a", lambda: L.double_well(a=float("nan")), "a"),
    ("ls-value-wrong-dim", lambda: L.review_2d().value(np.ones(3)), "shape"),
    ("ls-grad-wrong-dim", lambda: L.wen_ma_li_4d().grad(np.ones((5, 2))), "shape"),
    ("ls-hessian-nan", lambda: L.review_1d().hessian([np.nan]), "theta"),
    ("ls-from-sympy-extra-symbol",
     lambda: L.from_sympy("bad", __import__("sympy").Symbol("x") * __import__("sympy").Symbol("y"),
                          (__import__("sympy").Symbol("x"),)), "free symbols"),
]


def _expect(cases):
    return [(c[1], c[2], c[3] if len(c) > 3 else ValueError) for c in cases]


@pytest.mark.parametrize("call, match, error", _expect(CASES), ids=[c[0] for c in CASES])
def test_bad_input_raises_an_error_naming_it(call, match, error):
    with np.errstate(all="ignore"):
        with pytest.raises(error, match=_escape(match)):
            call()


# --- the shared validators themselves (issue 13, edge 8) -----------------------------------------

VALIDATOR_CASES = [
    ("int-none", lambda: V.check_int_at_least(None, 0, "num_steps"), "num_steps", TypeError),
    ("int-string", lambda: V.check_int_at_least("3", 0, "num_steps"), "num_steps", TypeError),
    ("int-bool", lambda: V.check_int_at_least(False, 0, "num_steps"), "num_steps", TypeError),
    ("int-fractional", lambda: V.check_int_at_least(1.5, 0, "seed"), "seed"),
    ("int-nan", lambda: V.check_int_at_least(math.nan, 0, "seed"), "seed"),
    ("int-huge", lambda: V.check_int_at_least(10**5000, 0, "seed"), "about 10^5000"),  # no 4300-digit repr
    ("int-above-maximum", lambda: V.check_int_at_least(11, 0, "k", maximum=10), "k"),
    ("int-array", lambda: V.check_int_at_least(np.arange(3), 0, "k"), "k", TypeError),
    ("nonneg-huge-int", lambda: V.check_nonnegative(10**400, "rho"), "rho"),
    ("nonneg-string", lambda: V.check_nonnegative("1", "rho"), "rho", TypeError),
    ("nonneg-bytes", lambda: V.check_nonnegative(b"1", "rho"), "rho", TypeError),
    ("nonneg-list", lambda: V.check_nonnegative([0.1], "rho"), "rho", TypeError),
    ("positive-torch-bool", lambda: V.check_positive(__import__("torch").tensor(True), "lr"), "lr", TypeError),
    ("probability-one", lambda: V.check_probability(1.0, "delta"), "delta"),
    ("p-none", lambda: V.check_p_norm(None), "p", TypeError),
    ("array-object", lambda: V.check_finite_array([object()], "x"), "x", TypeError),
    ("array-datetime", lambda: V.check_finite_array(np.array(["2020-01-01"], dtype="M8[D]"), "x"), "x",
     TypeError),
    ("array-torch-complex", lambda: V.check_finite_array(__import__("torch").ones(2, dtype=__import__("torch").cfloat),
                                                         "x"), "x", TypeError),
]


@pytest.mark.parametrize("call, match, error", _expect(VALIDATOR_CASES), ids=[c[0] for c in VALIDATOR_CASES])
def test_validators_name_the_argument(call, match, error):
    with pytest.raises(error, match=_escape(match)):
        call()


def test_validators_accept_what_they_accepted_before():
    torch = pytest.importorskip("torch")
    assert V.check_nonnegative(np.float32(0.1), "rho") == float(np.float32(0.1))
    assert V.check_nonnegative(torch.tensor(0.25, dtype=torch.float64), "rho") == 0.25
    assert V.check_nonnegative(np.array(2.0), "rho") == 2.0
    assert V.check_positive(3, "lr") == 3.0 and type(V.check_positive(3, "lr")) is float
    assert V.check_int_at_least(np.int64(5), 0, "n") == 5
    assert V.check_int_at_least(4.0, 0, "n") == 4 and V.check_int_at_least(1e3, 0, "n") == 1000
    assert V.check_int_at_least(V.INT64_MAX, 0, "seed") == 2**63 - 1
    assert V.check_p_norm(math.inf) == math.inf
    arr = np.array([1.0, 2.0])
    assert V.check_finite_array(arr, "x") is arr  # no copy of a float array
    np.testing.assert_array_equal(V.check_finite_array([1, 2**70], "x"), [1.0, 2.0**70])


def _escape(text: str) -> str:
    import re

    return re.escape(text)


# --- the torch functions of samlib.optim and samlib.hessian ---------------------------------------

torch = pytest.importorskip("torch")


def _f(theta):
    return (theta**2).sum()


def _theta():
    return torch.tensor([1.0, 2.0], dtype=torch.float64)


def _sam(**kw):
    from samlib.optim import SAM

    model = torch.nn.Linear(2, 1)
    args = dict(base_optimizer_cls=torch.optim.SGD, lr=0.1)
    args.update(kw)
    return SAM(model.parameters(), **args)


def _hessian_call(name, *args, **kw):
    from samlib import hessian

    return getattr(hessian, name)(*args, **kw)


TORCH_CASES = [
    ("SAM-negative-rho", lambda: _sam(rho=-0.05), "rho"),
    ("SAM-nan-rho", lambda: _sam(rho=float("nan")), "rho"),
    ("SAM-inf-rho", lambda: _sam(rho=math.inf), "rho"),
    ("SAM-negative-asam-offset", lambda: _sam(adaptive=True, asam_offset=-0.01), "asam_offset"),
    ("SAM-base-not-callable", lambda: _sam(base_optimizer_cls=3), "base_optimizer_cls", TypeError),
    ("hvp-wrong-v-shape", lambda: _hessian_call("hvp", _f, _theta(), torch.ones(3, dtype=torch.float64)), "v"),
    ("hvp-nan-theta", lambda: _hessian_call("hvp", _f, torch.tensor([np.nan, 1.0]), torch.ones(2)), "theta"),
    ("hvp-f-not-scalar", lambda: _hessian_call("hvp", lambda t: t * 2, _theta(), torch.ones(2)), "f(theta)"),
    ("hessian-dense-matrix-theta", lambda: _hessian_call("hessian_dense", _f, torch.ones(2, 2)), "theta"),
    ("hessian-dense-f-not-callable", lambda: _hessian_call("hessian_dense", 3.0, _theta()), "f", TypeError),
    ("hessian-dense-not-finite",
     lambda: _hessian_call("hessian_dense", lambda t: (t.abs() ** 1.5).sum(), torch.zeros(2)), "not finite"),
    ("hvp-bool-theta", lambda: _hessian_call("hvp", _f, [True, False], torch.ones(2)), "theta", TypeError),
    ("hvp-string-v", lambda: _hessian_call("hvp", _f, _theta(), ["a", "b"]), "v", TypeError),
    ("hvp-f-returns-float", lambda: _hessian_call("hvp", lambda t: 1.0, _theta(), torch.ones(2)), "f(theta)",
     TypeError),
    ("lambda-max-string-tol", lambda: _hessian_call("lambda_max", _f, _theta(), tol="1e-3"), "tol", TypeError),
    ("lambda-max-fractional-ncv", lambda: _hessian_call("lambda_max", _f, _theta(), ncv=2.5), "ncv"),
    ("lambda-max-power-bool-max-iter",
     lambda: _hessian_call("lambda_max_power", _f, _theta(), max_iter=True), "max_iter", TypeError),
    ("hessian-trace-huge-probes", lambda: _hessian_call("hessian_trace", _f, _theta(), num_probes=2**70),
     "num_probes"),
    ("model-loss-fn-bad-dtype",
     lambda: _hessian_call("model_loss_fn", torch.nn.Linear(1, 1), torch.nn.functional.mse_loss,
                           torch.zeros(2, 1), torch.zeros(2, 1), dtype="float64"), "dtype", TypeError),
    ("lambda-max-negative-seed", lambda: _hessian_call("lambda_max", _f, _theta(), seed=-1), "seed"),
    ("hessian-trace-zero-probes", lambda: _hessian_call("hessian_trace", _f, _theta(), num_probes=0), "num_probes"),
    ("hessian-trace-bad-mode", lambda: _hessian_call("hessian_trace", _f, _theta(), mode="sideways"), "mode"),
]


@pytest.mark.parametrize("call, match, error", _expect(TORCH_CASES), ids=[c[0] for c in TORCH_CASES])
def test_torch_bad_input_raises_an_error_naming_it(call, match, error):
    with pytest.raises(error, match=_escape(match)):
        call()
