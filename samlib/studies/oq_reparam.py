"""Part II, §3.5: sharpness of a ReLU MLP under function-preserving rescaling (Dinh et al. 2017).

A ReLU layer is positively homogeneous: multiplying layer ``l``'s weights and bias by
:math:`\\alpha > 0` and layer ``l + 1``'s weights by :math:`1/\\alpha` leaves the network's function
unchanged (:func:`rescale_layers`). Dinh et al. (2017) use this to make a minimum arbitrarily sharp
or flat; Kwon et al. (2021) define the adaptive sharpness, whose ball is scaled by
:math:`T = \\operatorname{diag}(|w|)`, to be invariant to it. :func:`measures` computes, at a rescaled
point, the function change, :math:`\\lambda_{\\max}` (Lanczos, :func:`samlib.hessian.lambda_max`), the
worst-case sharpness (:func:`samlib.sharpness.sharpness_pga`) and the adaptive sharpness
(:func:`samlib.scale.adaptive_sharpness`, with and without ASAM's offset). The two-layer *linear*
version of the same argument is chapter ``sharpness`` (:class:`samlib.scale.TwoLayerLinear`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from samlib._validation import check_int_at_least, check_nonnegative, check_positive
from samlib.data import load_dataset
from samlib.hessian import lambda_max, model_loss_fn
from samlib.nets import flat_params, make_mlp, mlp_layer_shapes
from samlib.scale import adaptive_sharpness
from samlib.sharpness import sharpness_pga

__all__ = ["rescale_layers", "train_relu_mlp", "measures"]


def rescale_layers(theta: Any, sizes: Sequence[int], layer: int, alpha: float) -> torch.Tensor:
    """Multiply layer ``layer``'s weights and bias by ``alpha``, layer ``layer + 1``'s weights by
    ``1 / alpha`` (flat parameters in :func:`samlib.nets.make_mlp` order).

    For a ReLU MLP the function is unchanged: :math:`W_{l+1}\\,\\mathrm{relu}(\\alpha(W_l h + b_l))/\\alpha
    = W_{l+1}\\,\\mathrm{relu}(W_l h + b_l)` (Dinh et al. 2017, §4).

    Raises
    ------
    ValueError
        ``alpha`` not positive and finite, ``layer`` not a hidden layer, ``theta`` of the wrong length.
    """
    alpha = check_positive(alpha, "alpha")
    shapes = mlp_layer_shapes(tuple(int(s) for s in sizes))
    layer = check_int_at_least(layer, 0, "layer")
    if layer > len(shapes) - 2:
        raise ValueError(f"layer must be a hidden layer, 0 .. {len(shapes) - 2}, got {layer}")
    theta = torch.as_tensor(theta)
    k = sum(o * i + o for (o, i), _ in shapes)
    if theta.shape != (k,):
        raise ValueError(f"theta must have shape ({k},) for sizes {tuple(sizes)}, got {tuple(theta.shape)}")
    out = theta.clone()
    pos = 0
    for idx, ((o, i), _) in enumerate(shapes):
        if idx == layer:
            out[pos: pos + o * i + o] *= alpha
        elif idx == layer + 1:
            out[pos: pos + o * i] /= alpha
        pos += o * i + o
    return out


def train_relu_mlp(sizes: Sequence[int] = (64, 32, 10), n_train: int = 500, lr: float = 0.5,
                   num_steps: int = 500, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A ReLU MLP trained by full-batch gradient descent on the digits (float64).

    Returns the flat parameters and the training inputs and labels.
    """
    lr = check_positive(lr, "lr")
    num_steps = check_int_at_least(num_steps, 1, "num_steps")
    data = load_dataset("digits", n_train=n_train, seed=seed)
    X = torch.tensor(data.X_train, dtype=torch.float64)
    y = torch.tensor(data.y_train, dtype=torch.long)
    model = make_mlp(tuple(sizes), seed).to(torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(num_steps):
        opt.zero_grad()
        F.cross_entropy(model(X), y).backward()
        opt.step()
    return flat_params(model), X, y


def measures(theta: torch.Tensor, sizes: Sequence[int], X: torch.Tensor, y: torch.Tensor,
             alphas: Sequence[float], rho: float, layer: int = 0, asam_offset: float = 0.01,
             pga: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Sharpness measures at every rescaling ``alphas`` of ``theta`` (one entry per alpha).

    Keys: ``output_change`` (largest absolute change of the logits over ``X``, relative to their
    largest absolute value), ``loss``, ``lambda_max``, ``worst_case`` (:math:`\\kappa_\\rho`, PGA lower
    bound), ``adaptive`` (offset 0) and ``adaptive_offset`` (offset ``asam_offset``).
    """
    rho = check_nonnegative(rho, "rho")
    pga = dict(num_restarts=4, num_steps=100, seed=0) if pga is None else dict(pga)
    model = make_mlp(tuple(sizes), 0).to(torch.float64)
    f, _ = model_loss_fn(model, F.cross_entropy, X, y, dtype=torch.float64)

    def f_np(th: np.ndarray) -> float:
        return float(f(torch.from_numpy(th)))

    def grad_np(th: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(th).requires_grad_(True)
        (g,) = torch.autograd.grad(f(t), t)
        return g.numpy()

    def logits(th: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.func.functional_call(model, _as_dict(model, th), (X,))

    ref = logits(theta)
    rows: dict[str, list[float]] = {k: [] for k in ("alpha", "output_change", "loss", "lambda_max",
                                                    "worst_case", "adaptive", "adaptive_offset")}
    for a in alphas:
        th = rescale_layers(theta, sizes, layer, a)
        th_np = th.numpy().copy()
        rows["alpha"].append(float(a))
        rows["output_change"].append(float((logits(th) - ref).abs().max() / ref.abs().max()))
        rows["loss"].append(f_np(th_np))
        rows["lambda_max"].append(float(lambda_max(f, th, tol=1e-8).eigenvalue))
        rows["worst_case"].append(float(sharpness_pga(f_np, grad_np, th_np, rho, **pga).value))
        rows["adaptive"].append(float(adaptive_sharpness(f_np, grad_np, th_np, rho, **pga)[0]))
        rows["adaptive_offset"].append(float(adaptive_sharpness(
            f_np, grad_np, th_np, rho, asam_offset=asam_offset, **pga)[0]))
    return {k: np.asarray(v) for k, v in rows.items()}


def _as_dict(model: torch.nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    out, pos = {}, 0
    for name, p in model.named_parameters():
        out[name] = theta[pos: pos + p.numel()].view_as(p)
        pos += p.numel()
    return out
