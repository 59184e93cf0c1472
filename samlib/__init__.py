"""samlib: the computations behind the executable book on Sharpness-Aware Minimization.

One module per concept:

========================  =====================================================
``samlib.ledger``         the claim ledger and the verdict check used by notebooks
``samlib.landscapes``     the review's toy functions and other test landscapes
``samlib.ascent``         ascent directions, SAM/GD steps and trajectories
``samlib.sharpness``      exact and numerical sharpness kappa_rho
``samlib.optim``          the ``SAM`` torch optimizer
``samlib.hessian``        Hessian-vector products, lambda_max, trace
``samlib.bounds``         PAC-Bayes bounds (Theorem 1, Lemma 1)
``samlib.convergence``    vectorised stochastic-SAM runs for the convergence rate
``samlib.data``           the embedded digits data and a local IDX (MNIST) reader
========================  =====================================================

Public names are imported lazily (PEP 562) so ``import samlib`` stays cheap and does not
import torch until a torch-based name is used.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "check_claim": "ledger",
    "load_ledger": "ledger",
    "VERDICTS": "ledger",
    "ascent_direction": "ascent",
    "sam_step": "ascent",
    "gd_step": "ascent",
    "run_trajectory": "ascent",
    "run_stochastic_trajectory": "ascent",
    "sharpness_quadratic": "sharpness",
    "sharpness_pga": "sharpness",
    "SAM": "optim",
    "hvp": "hessian",
    "hessian_dense": "hessian",
    "lambda_max": "hessian",
    "hessian_trace": "hessian",
    "landscapes": "landscapes",
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
