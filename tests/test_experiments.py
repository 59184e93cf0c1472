"""Tests of samlib.studies.experiments: hand-written batched gradients against torch.func, SAM with
m-sharpness against a direct per-chunk computation, the training loop's budget and pairing."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call, grad, vmap

from samlib.ascent import ascent_direction, ascent_scale
from samlib.nets import (
    init_stacked_mlp,
    member_module,
    mlp_forward,
    mlp_grad,
    sam_grad,
    stacked_loss_and_accuracy,
)
from samlib.studies.experiments import bootstrap_ratio_ci, train_stacked

DIMS = [6, 7, 5, 3]


def _data(S, B, seed=0, d=DIMS[0], K=DIMS[-1]):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(S, B, d, generator=g), torch.randint(0, K, (S, B), generator=g)


def _ref_loss(module, p, x, y):
    return torch.nn.functional.cross_entropy(functional_call(module, p, (x,)), y)


def _as_module_params(params, i):
    """nn.Sequential-style parameter dict of member i (Linear stores W transposed)."""
    out = {}
    for layer in range(len(params) // 2):
        out[f"{2 * layer}.weight"] = params[2 * layer][i].T
        out[f"{2 * layer}.bias"] = params[2 * layer + 1][i][0]
    return out


def test_mlp_grad_matches_torch_func():
    S, B = 3, 4
    params = init_stacked_mlp(DIMS, seeds=range(S))
    x, y = _data(S, B)
    loss, g = mlp_grad(params, x, y)
    module = member_module(params, 0)
    stacked = {k: torch.stack([_as_module_params(params, i)[k] for i in range(S)]) for k in _as_module_params(params, 0)}
    ref = vmap(grad(lambda p, xx, yy: _ref_loss(module, p, xx, yy)))(stacked, x, y)
    for layer in range(len(DIMS) - 1):
        torch.testing.assert_close(g[2 * layer], ref[f"{2 * layer}.weight"].transpose(1, 2), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(g[2 * layer + 1][:, 0], ref[f"{2 * layer}.bias"], rtol=1e-5, atol=1e-6)
    for i in range(S):
        ref_loss = torch.nn.functional.cross_entropy(member_module(params, i)(x[i]), y[i])
        torch.testing.assert_close(loss[i], ref_loss)


def _sam_reference(params, x, y, rho, m):
    """Per member, per chunk: eps_c = rho g_c/||g_c||, gradient at theta + eps_c, mean over chunks."""
    S, B, _ = x.shape
    out = [torch.zeros_like(p) for p in params]
    for i in range(S):
        theta = [p[i:i + 1].clone() for p in params]
        for c in range(B // m):
            xc, yc = x[i:i + 1, c * m:(c + 1) * m], y[i:i + 1, c * m:(c + 1) * m]
            _, g1 = mlp_grad(theta, xc, yc)
            # the book's one eps-hat, on the flattened gradient of the chunk
            flat = torch.cat([gi.reshape(-1) for gi in g1])
            eps = ascent_direction(flat, float(rho[i])).split([gi.numel() for gi in g1])
            pert = [t + e.reshape(t.shape) for t, e in zip(theta, eps)]
            _, g2 = mlp_grad(pert, xc, yc)
            for o, gi in zip(out, g2):
                o[i] += gi[0] / (B // m)
    return out


@pytest.mark.parametrize("m", [1, 2, 3, 6])
def test_sam_grad_low_rank_equals_direct_chunks(m):
    S, B = 2, 6
    params = init_stacked_mlp(DIMS, seeds=[3, 4])
    x, y = _data(S, B, seed=1)
    rho = torch.tensor([0.3, 0.05])
    _, g = sam_grad(params, x, y, rho, m)
    ref = _sam_reference(params, x, y, rho, m)
    for a, b in zip(g, ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_sam_with_rho_zero_is_the_plain_gradient():
    params = init_stacked_mlp(DIMS, seeds=[0, 1])
    x, y = _data(2, 4)
    _, g0 = mlp_grad(params, x, y)
    _, gs = sam_grad(params, x, y, torch.zeros(2), 2)
    for a, b in zip(g0, gs):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("m", [None, 2])
def test_the_in_place_step_is_theta_minus_lr_times_the_gradient(m):
    """With ``lr``, mlp_grad and sam_grad step in place; the step equals theta - lr g."""
    S, B = 2, 4
    x, y = _data(S, B, seed=5)
    x = x.double()
    lr = torch.tensor([0.3, 0.05], dtype=torch.float64)
    rho = torch.tensor([0.1, 0.2], dtype=torch.float64)
    for grad_fn in (lambda p, **kw: mlp_grad(p, x, y, **kw),
                    lambda p, **kw: sam_grad(p, x, y, rho, m, **kw)):
        params = [p.double() for p in init_stacked_mlp(DIMS, seeds=[0, 1])]
        loss, g = grad_fn(params)
        expected = [p - lr.view(-1, 1, 1) * gi for p, gi in zip(params, g)]
        loss_step, none = grad_fn(params, lr=lr)
        assert none is None
        torch.testing.assert_close(loss_step, loss)  # the loss before the step
        for p, e in zip(params, expected):
            torch.testing.assert_close(p, e, rtol=1e-12, atol=1e-14)
    # SSAM: the gradient at a perturbed point steps the unperturbed weights
    params = [p.double() for p in init_stacked_mlp(DIMS, seeds=[0, 1])]
    pert = [p + 0.01 for p in params]
    _, g = mlp_grad(pert, x, y)
    expected = [p - lr.view(-1, 1, 1) * gi for p, gi in zip(params, g)]
    before = [q.clone() for q in pert]
    mlp_grad(pert, x, y, lr=lr, step_on=params)
    for p, e, q, b in zip(params, expected, pert, before):
        torch.testing.assert_close(p, e, rtol=1e-12, atol=1e-14)
        assert torch.equal(q, b)  # the perturbed copy is left alone


def test_float64_training_starts_from_the_float32_init_and_stays_close():
    X, y = _toy()
    kw = dict(hidden=(8,), num_classes=3, batch_size=4, grad_budget=10, eval_every=10)
    kw.update(seeds=[3], lr=0.1, rho=0.05)
    h32 = train_stacked("sam", X, y, {"train": (X, None)}, **kw)
    h64 = train_stacked("sam", X, y, {"train": (X, None)}, dtype=torch.float64, **kw)
    assert all(p.dtype == torch.float64 for p in h64.params)
    assert member_module(h64.params, 0)[0].weight.dtype == torch.float64
    for p, q in zip(h32.params, h64.params):
        torch.testing.assert_close(p.double(), q, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h32.metrics["train_loss"], h64.metrics["train_loss"], rtol=1e-5)
    with pytest.raises(ValueError, match="dtype"):
        train_stacked("sgd", X, y, {}, seeds=[0], lr=0.1, dtype=torch.float16)


def test_sam_grad_rejects_m_not_dividing_batch():
    params = init_stacked_mlp(DIMS, seeds=[0])
    x, y = _data(1, 4)
    with pytest.raises(ValueError, match="m must divide"):
        sam_grad(params, x, y, torch.ones(1), 3)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_init_depends_only_on_the_seed(seed):
    a = init_stacked_mlp(DIMS, seeds=[seed, 7])
    b = init_stacked_mlp(DIMS, seeds=[9, seed])
    for p, q in zip(a, b):
        torch.testing.assert_close(p[0], q[1])
    bound = 1 / np.sqrt(DIMS[0])
    assert float(a[0].abs().max()) <= bound


def test_loss_and_accuracy_match_modules():
    params = init_stacked_mlp(DIMS, seeds=[0, 1])
    X = torch.randn(20, DIMS[0], generator=torch.Generator().manual_seed(2))
    y = torch.randint(0, DIMS[-1], (20,), generator=torch.Generator().manual_seed(3))
    loss, acc = stacked_loss_and_accuracy(params, X, y, chunk=7)
    for i in range(2):
        out = member_module(params, i)(X)
        assert loss[i] == pytest.approx(float(torch.nn.functional.cross_entropy(out, y).detach()), rel=1e-5)
        assert acc[i] == pytest.approx(float((out.argmax(1) == y).float().mean()))
    torch.testing.assert_close(mlp_forward(params, X)[1], member_module(params, 1)(X))


def _toy(n=40, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    return X, y


@pytest.mark.parametrize("method,steps", [("sgd", 30), ("adam", 30), ("sam", 15), ("ssam-f", 15), ("ssam-d", 15)])
def test_train_stacked_budget_and_learning(method, steps):
    X, y = _toy()
    h = train_stacked(method, X, y, {"train": (X, None)}, seeds=[0, 1], lr=0.05 if method != "adam" else 0.01,
                      rho=0.05, hidden=(16,), num_classes=3, batch_size=4, grad_budget=30, eval_every=10,
                      mask_every=5, fisher_samples=8)
    assert h.steps == steps and h.grad_evals[-1] == 30 and h.grad_evals[0] == 0
    assert h.metrics["train_loss"].shape == (len(h.grad_evals), 2)
    assert np.all(h.metrics["train_loss"][-1] < h.metrics["train_loss"][0])  # it learns
    assert h.epochs[-1] == pytest.approx(steps / 10)


def test_members_are_independent_and_paired():
    X, y = _toy()
    kw = dict(hidden=(8,), num_classes=3, batch_size=4, grad_budget=20, eval_every=20)
    both = train_stacked("sgd", X, y, {"train": (X, None)}, seeds=[5, 6], lr=[0.1, 0.02], **kw)
    one = train_stacked("sgd", X, y, {"train": (X, None)}, seeds=[6], lr=0.02, **kw)
    for p, q in zip(both.params, one.params):
        torch.testing.assert_close(p[1], q[0])


@pytest.mark.parametrize("method", ["sgd", "adam", "sam"])
def test_training_in_groups_gives_the_same_members(method):
    X, y = _toy()
    ys = np.stack([y, (y + 1) % 3, y])  # per-member labels follow their member into its group
    kw = dict(seeds=[4, 5, 6], lr=[0.05, 0.02, 0.05] if method != "adam" else 0.01, rho=0.05,
              hidden=(8,), num_classes=3, batch_size=4, grad_budget=20, eval_every=10)
    whole = train_stacked(method, X, ys, {"train": (X, None)}, **kw)
    split = train_stacked(method, X, ys, {"train": (X, None)}, group_size=2, **kw)
    assert split.seeds == whole.seeds and split.params[0].shape == whole.params[0].shape
    for p, q in zip(whole.params, split.params):
        torch.testing.assert_close(p, q)
    for k in whole.metrics:
        np.testing.assert_allclose(split.metrics[k], whole.metrics[k], rtol=1e-6)
    np.testing.assert_array_equal(split.lr, whole.lr)


def test_sam_with_rho_zero_trains_like_sgd_at_half_the_steps():
    X, y = _toy()
    kw = dict(hidden=(8,), num_classes=3, batch_size=4, eval_every=100)
    sgd = train_stacked("sgd", X, y, {}, seeds=[1], lr=0.1, grad_budget=10, **kw)
    sam = train_stacked("sam", X, y, {}, seeds=[1], lr=0.1, rho=0.0, grad_budget=20, **kw)
    for p, q in zip(sgd.params, sam.params):
        torch.testing.assert_close(p, q)


def test_train_stacked_rejects_bad_input():
    X, y = _toy()
    with pytest.raises(ValueError, match="method"):
        train_stacked("sgdm", X, y, {}, seeds=[0], lr=0.1)
    with pytest.raises(ValueError, match="m must divide"):
        train_stacked("sam", X, y, {}, seeds=[0], lr=0.1, m=3, batch_size=4)
    with pytest.raises(ValueError, match="lr"):
        train_stacked("sgd", X, y, {}, seeds=[0, 1], lr=[0.1, -1.0])
    with pytest.raises(ValueError, match="y_train"):
        train_stacked("sgd", X, y[:-1], {}, seeds=[0], lr=0.1)


def test_bootstrap_ratio_ci_brackets_the_ratio():
    a = np.array([0.8, 0.9, 0.7, 0.85, 0.75])
    b = np.ones(5)
    r, lo, hi = bootstrap_ratio_ci(a, b)
    assert r == pytest.approx(0.8) and lo < r < hi and 0.7 <= lo and hi <= 0.9
    with pytest.raises(ValueError):
        bootstrap_ratio_ci(a, b[:3])


def test_fused_adam_path_equals_per_member_path():
    X, y = _toy()
    kw = dict(hidden=(8,), num_classes=3, batch_size=4, grad_budget=12, eval_every=12)
    shared = train_stacked("adam", X, y, {}, seeds=[1, 2], lr=0.01, **kw)  # fused kernel
    mixed = train_stacked("adam", X, y, {}, seeds=[1, 2], lr=[0.01, 0.02], **kw)  # hand-written
    for p, q in zip(shared.params, mixed.params):
        torch.testing.assert_close(p[0], q[0], rtol=1e-5, atol=1e-6)


def test_first_crossing_interpolates_in_log_loss():
    from samlib.studies.experiments import first_crossing

    x = np.array([0.0, 10.0, 20.0])
    y = np.array([1.0, 0.1, 0.001])
    assert first_crossing(x, y, 0.01) == pytest.approx(15.0)
    assert first_crossing(x, y, 2.0) == 0.0
    assert np.isnan(first_crossing(x, y, 1e-4))


def test_train_many_in_processes_equals_serial_runs():
    from samlib.studies.experiments import train_many

    X, y = _toy()
    base = dict(X_train=X, y_train=y, eval_sets={"train": (X, None)}, seeds=[1, 2], hidden=(8,),
                num_classes=3, batch_size=4, grad_budget=12, eval_every=6, dtype=torch.float64)
    jobs = [dict(base, method="sam", lr=0.1, rho=0.05), dict(base, method="adam", lr=0.01)]
    serial = train_many(jobs, workers=1)
    parallel = train_many(jobs, workers=2)
    for a, b in zip(serial, parallel):
        assert a.method == b.method
        for p, q in zip(a.params, b.params):
            torch.testing.assert_close(p, q, rtol=0, atol=0)
        for k in a.metrics:
            np.testing.assert_array_equal(a.metrics[k], b.metrics[k])
    assert train_many([]) == []


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_ascent_scale_is_ascent_direction_row_by_row_with_a_zero_row(lib):
    # the batched kernels (nets.sam_grad, the SSAM step) scale g by ascent_scale(||g||, rho)
    rng = np.random.default_rng(0)
    G = rng.normal(size=(4, 7)) * np.array([[1.0], [1e-200], [0.0], [1e150]])
    rho = np.array([0.5, 0.1, 0.3, 2.0])
    top = np.abs(G).max(1)
    # a norm without underflow (||g|| of the 1e-200 row squares to below the float range)
    norms = top * np.linalg.norm(G / np.where(top > 0, top, 1.0)[:, None], axis=1)
    if lib == "torch":
        c = ascent_scale(torch.tensor(norms), torch.tensor(rho)).numpy()
    else:
        c = ascent_scale(norms, rho)
    assert c[2] == 0.0 and np.isfinite(c).all()
    for i in range(4):
        ref = ascent_direction(G[i], rho[i])
        if norms[i] > 0:
            np.testing.assert_allclose(c[i] * G[i], ref, rtol=1e-14, atol=0)
        else:
            assert not ref.any() and not (c[i] * G[i]).any()


# ----------------------------------------------------------------------------------------
# The two-pass L-infinity SAM and ASAM of train_stacked
# ----------------------------------------------------------------------------------------
def _member_batches(X, y, seed, steps, batch_size, dtype=torch.float64):
    """The batches train_stacked gives member ``seed``: randperm from 10_000 + seed per epoch."""
    Xt, yt = torch.tensor(X, dtype=dtype), torch.tensor(y)
    gen = torch.Generator().manual_seed(10_000 + seed)
    per_epoch, order = len(y) // batch_size, None
    for step in range(steps):
        j = step % per_epoch
        if j == 0:
            order = torch.randperm(len(y), generator=gen)
        idx = order[j * batch_size:(j + 1) * batch_size]
        yield Xt[idx], yt[idx]


def _linear_params(stacked):
    """Stacked [W (1, in, out), b (1, 1, out), ...] -> nn.Linear [weight, bias, ...] of member 0."""
    return [t[0].T if i % 2 == 0 else t[0, 0] for i, t in enumerate(stacked)]


def _stacked_final(method, X, y, seed, steps, batch_size, rho, lr, hidden, K, **kw):
    h = train_stacked(method, X, y, {}, seeds=[seed], lr=lr, rho=rho, hidden=hidden, num_classes=K,
                      batch_size=batch_size, grad_budget=2 * steps, eval_every=10**6,
                      dtype=torch.float64, **kw)
    assert h.steps == steps
    return _linear_params(h.params)


def test_sam_linf_step_is_the_gradient_at_theta_plus_ascent_direction_inf():
    """One member, a few steps: theta <- theta - lr grad L(theta + eps), eps from
    samlib.ascent.ascent_direction(g, rho, inf) on the flattened gradient, by torch autograd."""
    X, y = _toy(n=24, d=6)
    seed, steps, B, rho, lr, hidden = 3, 4, 8, 0.02, 0.2, (9,)
    net = member_module(init_stacked_mlp([6, *hidden, 3], [seed]), 0).to(torch.float64)
    params = list(net.parameters())
    for k, (xb, yb) in enumerate(_member_batches(X, y, seed, steps, B), start=1):
        g = torch.autograd.grad(torch.nn.functional.cross_entropy(net(xb), yb), params)
        flat = torch.cat([t.reshape(-1) for t in g])
        eps = ascent_direction(flat, rho, np.inf).split([t.numel() for t in g])
        with torch.no_grad():
            for p, e in zip(params, eps):
                p.add_(e.view_as(p))
        g_pert = torch.autograd.grad(torch.nn.functional.cross_entropy(net(xb), yb), params)
        with torch.no_grad():
            for p, e, gp in zip(params, eps, g_pert):
                p.sub_(e.view_as(p)).sub_(lr * gp)
        ours = _stacked_final("sam-linf", X, y, seed, k, B, rho, lr, hidden, 3)
        gap = max(float((a - b.detach()).abs().max()) for a, b in zip(ours, params))
        assert gap < 1e-12, f"step {k}: {gap:.3g}"
    # the check can fail: the L2 step of the same rho is a different iterate
    l2 = _stacked_final("sam", X, y, seed, steps, B, rho, lr, hidden, 3)
    assert max(float((a - b.detach()).abs().max()) for a, b in zip(l2, params)) > 1e-6


def test_asam_agrees_with_optim_sam_step_for_step():
    """train_stacked's ASAM against samlib.optim.SAM (adaptive on the weights, not on the
    biases, as in Kwon et al.'s code) on one member, like tests/test_sam_agreement.py."""
    from samlib.optim import SAM

    X, y = _toy(n=24, d=6)
    seed, steps, B, rho, lr, hidden, offset = 5, 4, 8, 0.5, 0.2, (9,), 0.01
    net = member_module(init_stacked_mlp([6, *hidden, 3], [seed]), 0).to(torch.float64)
    weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
    opt = SAM([dict(params=weights, adaptive=True), dict(params=biases, adaptive=False)],
              torch.optim.SGD, rho=rho, lr=lr, asam_offset=offset)
    for k, (xb, yb) in enumerate(_member_batches(X, y, seed, steps, B), start=1):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xb), yb).backward()
        opt.first_step(zero_grad=True)
        torch.nn.functional.cross_entropy(net(xb), yb).backward()
        opt.second_step()
        ours = _stacked_final("asam", X, y, seed, k, B, rho, lr, hidden, 3, asam_offset=offset)
        gap = max(float((a - b.detach()).abs().max()) for a, b in zip(ours, net.parameters()))
        assert gap < 1e-11, f"step {k}: {gap:.3g}"
    # the comparison can fail: another offset, or SAM of the same rho, are other iterates
    for other in (dict(method="asam", asam_offset=0.02), dict(method="sam")):
        w = _stacked_final(other.pop("method"), X, y, seed, steps, B, rho, lr, hidden, 3, **other)
        assert max(float((a - b.detach()).abs().max()) for a, b in zip(w, net.parameters())) > 1e-6


@pytest.mark.parametrize("method", ["sam-linf", "asam"])
def test_two_pass_methods_with_rho_zero_train_like_sgd(method):
    X, y = _toy()
    kw = dict(hidden=(8,), num_classes=3, batch_size=4, eval_every=100, dtype=torch.float64)
    sgd = train_stacked("sgd", X, y, {}, seeds=[1], lr=0.1, grad_budget=10, **kw)
    two = train_stacked(method, X, y, {}, seeds=[1], lr=0.1, rho=0.0, grad_budget=20, **kw)
    for p, q in zip(sgd.params, two.params):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-14)


@pytest.mark.parametrize("method", ["sam-linf", "asam"])
def test_two_pass_methods_split_into_groups_like_one_run(method):
    X, y = _toy()
    kw = dict(seeds=[4, 5, 6], lr=0.05, rho=[0.01, 0.02, 0.03], hidden=(8,), num_classes=3,
              batch_size=4, grad_budget=20, eval_every=10, dtype=torch.float64, asam_offset=0.05)
    whole = train_stacked(method, X, y, {"train": (X, None)}, **kw)
    split = train_stacked(method, X, y, {"train": (X, None)}, group_size=2, **kw)
    for p, q in zip(whole.params, split.params):
        torch.testing.assert_close(p, q)


def test_asam_offset_is_validated():
    X, y = _toy()
    with pytest.raises(ValueError, match="asam_offset"):
        train_stacked("asam", X, y, {}, seeds=[0], lr=0.1, rho=0.1, asam_offset=-1.0)


# -- the two halves of SAM's perturbed gradient (sam-logit, sam-jacobian) -------------------

def _one_step_grad(method, X, y, rho, lr=0.5, seed=3):
    """The gradient one full-batch step of the trainer used: ``(w_0 - w_1) / lr``, per tensor."""
    w0 = init_stacked_mlp([X.shape[1], 7, 5, 3], [seed])
    h = train_stacked(method, X, y, {}, seeds=[seed], lr=lr, rho=rho, hidden=(7, 5), num_classes=3,
                      batch_size=len(X), grad_budget=2 if method != "sgd" else 1, dtype=torch.float64)
    return [(a.double() - b) / lr for a, b in zip(w0, h.params)]


def _tiny_problem(n=12, d=4):
    g = torch.Generator().manual_seed(5)
    return torch.randn(n, d, generator=g, dtype=torch.float64).numpy(), torch.randint(0, 3, (n,), generator=g).numpy()


def _autograd_halves(X, y, rho, seed=3):
    """``J(w)^T dl(f(w+eps))`` and ``J(w+eps)^T dl(f(w))`` by torch.func.vjp on one member."""
    params = [p[0].double() for p in init_stacked_mlp([X.shape[1], 7, 5, 3], [seed])]
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def logits(*ps):
        h = Xt
        for layer in range(len(ps) // 2):
            h = h @ ps[2 * layer] + ps[2 * layer + 1]
            if layer < len(ps) // 2 - 1:
                h = torch.relu(h)
        return h

    def dl_dz(z):
        return torch.func.grad(lambda zz: torch.nn.functional.cross_entropy(zz, yt))(z)

    z, vjp_w = torch.func.vjp(logits, *params)
    g = vjp_w(dl_dz(z))
    norm = torch.sqrt(sum((t**2).sum() for t in g))
    pert = [p + rho * t / norm for p, t in zip(params, g)]
    z_p, vjp_p = torch.func.vjp(logits, *pert)
    return vjp_w(dl_dz(z_p)), vjp_p(dl_dz(z))


@pytest.mark.parametrize("method", ["sam-logit", "sam-jacobian"])
def test_sam_halves_with_zero_radius_are_sgd(method):
    X, y = _tiny_problem()
    for a, b in zip(_one_step_grad(method, X, y, 0.0), _one_step_grad("sgd", X, y, 0.0)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)


def test_sam_halves_match_torch_func():
    X, y = _tiny_problem()
    logit_ref, jac_ref = _autograd_halves(X, y, rho=0.3)
    for method, ref in (("sam-logit", logit_ref), ("sam-jacobian", jac_ref)):
        got = _one_step_grad(method, X, y, 0.3)
        for a, b in zip(got, ref):
            torch.testing.assert_close(a[0], b, rtol=1e-9, atol=1e-12)
    # the perturbed Jacobian and the perturbed error are not the same change
    assert max(float((a - b).abs().max()) for a, b in zip(logit_ref, jac_ref)) > 1e-3


def test_sam_halves_add_up_to_sam_to_first_order():
    """``g_SAM - g = (g_logit - g) + (g_jac - g) + O(rho^2)``: the remainder shrinks 4-fold when rho halves."""
    X, y = _tiny_problem()
    sgd = _one_step_grad("sgd", X, y, 0.0)

    def remainder(rho):
        parts = [_one_step_grad(m, X, y, rho) for m in ("sam", "sam-logit", "sam-jacobian")]
        first = sum(float(((lo - g) ** 2).sum()) for lo, g in zip(parts[1], sgd)) ** 0.5
        rest = sum(float(((s - lo - ja + g) ** 2).sum()) for s, lo, ja, g in zip(*parts, sgd)) ** 0.5
        return first, rest

    (f1, r1), (f2, r2) = remainder(2e-3), remainder(1e-3)
    assert 1.8 < f1 / f2 < 2.2  # each half is first order in rho
    assert 3.5 < r1 / r2 < 4.5  # what is left is second order
    assert r1 < 0.05 * f1


@pytest.mark.parametrize("method", ["sam-logit", "sam-jacobian"])
def test_sam_halves_zero_gradient_gives_zero_perturbation(method):
    """Logits so far apart that softmax is one-hot in float64: g = 0, eps = 0, no NaN, no step."""
    seed = 0
    w0 = init_stacked_mlp([4, 7, 5, 3], [seed])
    X = _tiny_problem()[0] * 1e6
    y = mlp_forward([p.double() for p in w0], torch.tensor(X))[0].argmax(-1).numpy()
    kw = dict(seeds=[seed], lr=0.5, rho=0.3, hidden=(7, 5), num_classes=3, batch_size=len(X),
              grad_budget=4, dtype=torch.float64)
    _, g = mlp_grad([p.double() for p in w0], torch.tensor(X)[None], torch.tensor(y)[None])
    assert all(float(t.abs().max()) == 0 for t in g)
    h = train_stacked(method, X, y, {"train": (X, None)}, **kw)
    for a, b in zip(h.params, w0):
        assert torch.equal(a, b.double())
    assert np.isfinite(h.metrics["train_loss"]).all()
    assert ascent_scale(torch.zeros(1), 0.3).item() == 0.0


def test_backprop_is_mlp_grad_with_the_loss_error_and_checks_shapes():
    from samlib.nets import backprop, forward_cache, output_delta
    S, B = 2, 4
    params = init_stacked_mlp(DIMS, seeds=range(S))
    x, y = _data(S, B)
    hs, z = forward_cache(params, x)
    _, delta = output_delta(z, y, B)
    for a, b in zip(backprop(params, hs, delta), mlp_grad(params, x, y)[1]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    stepped = [p.clone() for p in params]
    backprop(params, hs, delta, lr=torch.full((S,), 0.1), step_on=stepped)
    for p, q, gr in zip(stepped, params, mlp_grad(params, x, y)[1]):
        torch.testing.assert_close(p, q - 0.1 * gr)
    with pytest.raises(ValueError, match="hs"):
        backprop(params, hs[:-1], delta)
    with pytest.raises(ValueError, match="delta"):
        backprop(params, hs, delta[:, :-1])
