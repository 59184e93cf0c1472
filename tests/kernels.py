"""The numerical kernels a process runs on, and a second configuration to test against.

``python tests/kernels.py`` prints the kernels of this process (OpenBLAS core type, ATen
vector width, thread counts), so that a log shows which configuration nbval compared
outputs under. ``python tests/kernels.py --forced`` prints environment assignments that
select a *different* configuration on this machine: the next-older OpenBLAS kernel and ATen
vector width than the native ones, and one thread instead of several. ``make nbval-forced``
re-runs nbval under it; stored outputs must not depend on any of these.
"""
from __future__ import annotations

import os
import sys

# Native kernel -> the older one to force instead (both run on the newer CPU).
_OLDER_OPENBLAS = {"SkylakeX": "Haswell", "Cooperlake": "Haswell", "SapphireRapids": "Haswell",
                   "Zen": "Sandybridge", "Haswell": "Sandybridge", "Sandybridge": "Nehalem"}
_OLDER_ATEN = {"AVX512": "avx2", "AVX2": "default"}


def native() -> tuple[str | None, str]:
    """(OpenBLAS core type, ATen CPU capability) of this process."""
    import threadpoolctl
    import torch

    arch = next((i.get("architecture") for i in threadpoolctl.threadpool_info()
                 if i.get("internal_api") == "openblas"), None)
    return arch, torch.backends.cpu.get_cpu_capability()


def forced_env() -> dict[str, str]:
    arch, cap = native()
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env["OPENBLAS_CORETYPE"] = _OLDER_OPENBLAS.get(arch or "", "Nehalem")
    env["ATEN_CPU_CAPABILITY"] = _OLDER_ATEN.get(cap, "default")
    return env


def describe() -> str:
    import threadpoolctl
    import torch

    parts = [f"ATen CPU capability {torch.backends.cpu.get_cpu_capability()}",
             f"torch threads {torch.get_num_threads()}"]
    for info in threadpoolctl.threadpool_info():
        if info.get("internal_api") == "openblas":
            parts.append(f"OpenBLAS {info.get('architecture')} x{info.get('num_threads')}")
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "ATEN_CPU_CAPABILITY") if k in os.environ}
    return "kernels: " + ", ".join(parts) + (f" (forced: {env})" if env else " (native)")


if __name__ == "__main__":
    if "--forced" in sys.argv[1:]:
        print(" ".join(f"{k}={v}" for k, v in forced_env().items()))
    else:
        print(describe())
