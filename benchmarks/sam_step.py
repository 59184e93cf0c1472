"""Time one optimizer step: samlib's SAM, plain SGD, and pytorch-optimizer's SAM.

The network is the review's MLP 784-500-300-10 (softmax cross-entropy) on synthetic
inputs, at batch sizes 10 and 128, on one thread. Each repeat times a short block of steps of
every optimizer in turn (interleaved, so a busy phase of a shared machine hits all of them
alike). Reported per optimizer: the median over repeats of the wall time and of the thread's
CPU time per step (CPU time leaves out the time the thread waits for a core, which on a
loaded machine is most of the noise), and per SAM the median of the per-repeat ratios to the
SGD block of the same repeat. A SAM step is two forward-backward passes and one update, so
about 2.0 is the floor; the goal for samlib is <= 2.1.

``pytorch-optimizer`` (the side-by-side anchor) is not a dependency of the book: install it
by hand to get that column (``.venv/bin/pip install pytorch-optimizer``); without it the
column is skipped with a message.

With ``--runs N`` the whole measurement is repeated N times; ``results`` then holds the
median over the runs of every figure and ``runs`` each run's ratios with the load average.

Usage: ``.venv/bin/python benchmarks/sam_step.py [--threads 1] [--repeats 41] [--runs 3]``.
Prints one JSON object on its last line and writes it to ``benchmarks/results/sam_step.json``.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import statistics
import time

import torch
from torch import nn

from samlib.optim import SAM

from _common import cpu_model, write_result  # noqa: E402  (benchmarks/ is on sys.path)

# steps per timed block: blocks of about 20-40 ms, short enough to interleave finely
BLOCK_STEPS = {10: 25, 128: 4}


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 500), nn.ReLU(), nn.Linear(500, 300), nn.ReLU(), nn.Linear(300, 10))


def pytorch_optimizer_version() -> str | None:
    for name in ("pytorch-optimizer", "pytorch_optimizer"):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


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


def time_interleaved(steppers: dict, steps: int, repeats: int) -> dict[str, dict[str, list[float]]]:
    """Seconds per step of each stepper, wall and thread CPU time, one value per repeat.

    Repeat 0 is a warm-up and is dropped.
    """
    times: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in steppers}
    for r in range(repeats + 1):
        for name, step in steppers.items():
            w0, c0 = time.perf_counter(), time.thread_time()
            for _ in range(steps):
                step()
            if r > 0:
                times[name]["wall"].append((time.perf_counter() - w0) / steps)
                times[name]["cpu"].append((time.thread_time() - c0) / steps)
    return times


def summarise(times: dict[str, dict[str, list[float]]]) -> dict[str, float]:
    res: dict[str, float] = {}
    for clock in ("wall", "cpu"):
        for name, t in times.items():
            res[f"{name}_{clock}_ms"] = round(1e3 * statistics.median(t[clock]), 4)
        for name, t in times.items():
            if name != "sgd":
                paired = [a / b for a, b in zip(t[clock], times["sgd"][clock])]
                res[f"ratio_{name}_to_sgd_{clock}"] = round(statistics.median(paired), 3)
    return res


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=41)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/sam_step.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out: dict = {
        "benchmark": "one optimizer step, MLP 784-500-300-10, cross-entropy",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {
            "cpu": cpu_model(), "logical_cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": args.threads,
            "pytorch_optimizer": pytorch_optimizer_version(),
            "load_average_at_start": list(os.getloadavg()),
        },
        "repeats": args.repeats,
        "block_steps": BLOCK_STEPS,
        "runs": [],
        "results": {},
    }
    for run in range(args.runs):
        load = os.getloadavg()[0]
        measured = {}
        for batch, steps in BLOCK_STEPS.items():
            res = summarise(time_interleaved(make_steppers(batch), steps=steps, repeats=args.repeats))
            measured[f"batch_{batch}"] = res
            print(f"run {run}, batch {batch}: " + ", ".join(f"{k}={v}" for k, v in res.items()))
        out["runs"].append({"load_average_1min": round(load, 2), **{
            b: {k: v for k, v in r.items() if k.startswith("ratio_samlib")} for b, r in measured.items()}})
        for b, r in measured.items():
            for k, v in r.items():
                out["results"].setdefault(b, {}).setdefault(k, []).append(v)
    out["results"] = {b: {k: round(statistics.median(v), 4) for k, v in r.items()} for b, r in out["results"].items()}
    for clock in ("wall", "cpu"):
        out[f"goal_samlib_le_2.1x_{clock}"] = all(
            r[f"ratio_samlib_sam_to_sgd_{clock}"] <= 2.1 for r in out["results"].values()
        )
    out["machine"]["load_average_at_end"] = list(os.getloadavg())
    write_result("sam_step", out, write=not args.no_write)
    return out


if __name__ == "__main__":
    main()
