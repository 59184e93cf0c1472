"""Time one optimizer step: samlib's SAM, plain SGD, and pytorch-optimizer's SAM.

The network is the review's MLP 784-500-300-10 (softmax cross-entropy) on synthetic
inputs, at batch sizes 10 and 128. Each repeat times a block of steps of every optimizer in
turn (interleaved, so a busy phase of a shared machine hits all of them alike); the result
is the median time per step over the repeats, and the ratios to SGD. A SAM step is two
forward-backward passes, so 2.0 is the floor; the goal for samlib is <= 2.1.

``pytorch-optimizer`` (the side-by-side anchor) is not a dependency of the book: install it
by hand to get that column (``.venv/bin/pip install pytorch-optimizer``); without it the
column is skipped with a message.

Usage: ``.venv/bin/python benchmarks/sam_step.py [--threads 1] [--repeats 7]``.
Prints one JSON object on its last line and writes it to ``benchmarks/results/sam_step.json``.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import torch
from torch import nn

from samlib.optim import SAM

from _common import cpu_model, write_result  # noqa: E402  (benchmarks/ is on sys.path)





def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 500), nn.ReLU(), nn.Linear(500, 300), nn.ReLU(), nn.Linear(300, 10))


def make_steppers(batch: int, lr: float = 0.01, rho: float = 0.05) -> dict:
    """One closure per optimizer that performs one full training step on a fixed batch."""
    g = torch.Generator().manual_seed(batch)
    X, y = torch.randn(batch, 784, generator=g), torch.randint(0, 10, (batch,), generator=g)
    loss_fn = nn.functional.cross_entropy
    steppers = {}

    model_sgd = make_model()
    sgd = torch.optim.SGD(model_sgd.parameters(), lr=lr)

    def step_sgd():
        sgd.zero_grad(set_to_none=True)
        loss_fn(model_sgd(X), y).backward()
        sgd.step()

    steppers["sgd"] = step_sgd

    def sam_stepper(opt, model):
        def step():
            loss_fn(model(X), y).backward()
            opt.first_step(zero_grad=True)
            loss_fn(model(X), y).backward()
            opt.second_step(zero_grad=True)
        return step

    model_s = make_model()
    steppers["samlib_sam"] = sam_stepper(SAM(model_s.parameters(), torch.optim.SGD, rho=rho, lr=lr), model_s)
    try:
        import pytorch_optimizer
    except ImportError:
        print("pytorch-optimizer is not installed: skipping its column "
              "(install it by hand with `.venv/bin/pip install pytorch-optimizer`)")
    else:
        model_p = make_model()
        opt_p = pytorch_optimizer.SAM(model_p.parameters(), torch.optim.SGD, rho=rho, lr=lr)
        steppers["pytorch_optimizer_sam"] = sam_stepper(opt_p, model_p)
    return steppers


def time_interleaved(steppers: dict, steps: int, repeats: int) -> dict[str, float]:
    """Median seconds per step of each stepper, timed in interleaved blocks of ``steps``."""
    times: dict[str, list[float]] = {k: [] for k in steppers}
    for r in range(repeats + 1):
        for name, step in steppers.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            if r > 0:  # repeat 0 is the warm-up
                times[name].append((time.perf_counter() - t0) / steps)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/sam_step.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out: dict = {
        "benchmark": "one optimizer step, MLP 784-500-300-10, cross-entropy",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu_model(), "logical_cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": args.threads,
            "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "repeats": args.repeats,
        "results": {},
    }
    for batch, steps in ((10, 200), (128, 50)):
        med = time_interleaved(make_steppers(batch), steps=steps, repeats=args.repeats)
        res = {f"{k}_ms": round(1e3 * v, 4) for k, v in med.items()}
        for k in med:
            if k != "sgd":
                res[f"ratio_{k}_to_sgd"] = round(med[k] / med["sgd"], 3)
        out["results"][f"batch_{batch}"] = res
        print(f"batch {batch}: " + ", ".join(f"{k}={v}" for k, v in res.items()))
    out["goal_samlib_le_2.1x"] = all(r["ratio_samlib_sam_to_sgd"] <= 2.1 for r in out["results"].values())
    out["machine"]["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    write_result("sam_step", out, write=not args.no_write)
    return out


if __name__ == "__main__":
    main()
