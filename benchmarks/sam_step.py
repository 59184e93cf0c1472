"""Time one optimizer step: samlib's SAM, plain SGD, and pytorch-optimizer's SAM.

The network is the review's MLP 784-500-300-10 (softmax cross-entropy) on synthetic
inputs, at batch sizes 10 and 128, on one thread. Each repeat times a short block of steps of
every optimizer in turn (interleaved, so a busy phase of a shared machine hits all of them
alike). Reported per optimizer: the median over repeats of the wall time and of the thread's
CPU time per step (CPU time leaves out the time the thread waits for a core, which on a
loaded machine is most of the noise), and per SAM the median of the per-repeat ratios to the
SGD block of the same repeat. A SAM step is two forward-backward passes and one update: the
column ``sgd_two_passes`` does exactly that (no perturbation) with the same SGD, so its ratio is
the floor measured side by side, and SAM's ratio minus it is what the perturbation costs (the
gradient norm, one pass over the gradients; ``w + eps``, one pass over weights and gradients;
Python). The goal for samlib is <= 2.1.

Every column steps the same base optimizer, ``torch.optim.SGD(lr=0.01)`` with torch's default
``foreach=None``, which on CPU is its per-tensor loop: a fair comparison needs the same update
on both sides. Minor page faults per step are recorded per column: a step that allocates fresh
tensors (pytorch-optimizer's SAM clones the weights) can make the allocator return memory to the
system and fault it back, which shows up here and not in the timings' medians alone.

``--breakdown`` adds, per batch size, the median milliseconds of each part of an SGD step and of
a samlib SAM step (forward-backward, ``first_step``, ``second_step``, ...), timed inside the loop.

``pytorch-optimizer`` (the side-by-side anchor) is not a dependency of the book: install it
by hand to get that column (``.venv/bin/pip install pytorch-optimizer``, or ``pip install
--target DIR`` and ``DIR`` on ``PYTHONPATH``); without it the column is skipped with a message.

With ``--runs N`` the whole measurement is repeated N times; ``results`` then holds the
median over the runs of every figure and ``runs`` each run's ratios with the load average.

Usage: ``.venv/bin/python benchmarks/sam_step.py [--threads 1] [--repeats 41] [--runs 3] [--breakdown]``.
Prints one JSON object on its last line and writes it to ``benchmarks/results/sam_step.json``.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import resource
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


BASE_KWARGS = dict(lr=0.01)  # of torch.optim.SGD in every column, SGD's own and SAM's base
RHO = 0.05


def batch_of(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(batch)
    return torch.randn(batch, 784, generator=g), torch.randint(0, 10, (batch,), generator=g)


def make_steppers(batch: int) -> dict:
    """One closure per optimizer that performs one full training step on a fixed batch."""
    X, y = batch_of(batch)
    loss_fn = nn.functional.cross_entropy
    steppers = {}

    model_sgd = make_model()
    sgd = torch.optim.SGD(model_sgd.parameters(), **BASE_KWARGS)

    def step_sgd():
        sgd.zero_grad(set_to_none=True)
        loss_fn(model_sgd(X), y).backward()
        sgd.step()

    steppers["sgd"] = step_sgd

    model_2 = make_model()
    sgd_2 = torch.optim.SGD(model_2.parameters(), **BASE_KWARGS)

    def step_two_passes():  # SAM's floor: two forward-backward passes, one update, no perturbation
        sgd_2.zero_grad(set_to_none=True)
        loss_fn(model_2(X), y).backward()
        sgd_2.zero_grad(set_to_none=True)
        loss_fn(model_2(X), y).backward()
        sgd_2.step()

    steppers["sgd_two_passes"] = step_two_passes

    def sam_stepper(opt, model):
        def step():
            loss_fn(model(X), y).backward()
            opt.first_step(zero_grad=True)
            loss_fn(model(X), y).backward()
            opt.second_step(zero_grad=True)
        return step

    model_s = make_model()
    steppers["samlib_sam"] = sam_stepper(SAM(model_s.parameters(), torch.optim.SGD, rho=RHO, **BASE_KWARGS), model_s)
    try:
        import pytorch_optimizer
    except ImportError:
        print("pytorch-optimizer is not installed: skipping its column "
              "(install it by hand with `.venv/bin/pip install pytorch-optimizer`)")
    else:
        model_p = make_model()
        opt_p = pytorch_optimizer.SAM(model_p.parameters(), torch.optim.SGD, rho=RHO, **BASE_KWARGS)
        steppers["pytorch_optimizer_sam"] = sam_stepper(opt_p, model_p)
    return steppers


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


def time_interleaved(steppers: dict, steps: int, repeats: int) -> dict[str, dict[str, list[float]]]:
    """Seconds per step of each stepper, wall and thread CPU time, and minor page faults per
    step, one value per repeat.

    Repeat 0 is a warm-up and is dropped.
    """
    times: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": [], "faults": []} for k in steppers}
    for r in range(repeats + 1):
        for name, step in steppers.items():
            f0, w0, c0 = minor_faults(), time.perf_counter(), time.thread_time()
            for _ in range(steps):
                step()
            if r > 0:
                times[name]["wall"].append((time.perf_counter() - w0) / steps)
                times[name]["cpu"].append((time.thread_time() - c0) / steps)
                times[name]["faults"].append((minor_faults() - f0) / steps)
    return times


def summarise(times: dict[str, dict[str, list[float]]]) -> dict[str, float]:
    res: dict[str, float] = {}
    for clock in ("wall", "cpu"):
        for name, t in times.items():
            res[f"{name}_{clock}_ms"] = round(1e3 * statistics.median(t[clock]), 4)
        for name, t in times.items():
            for base in ("sgd", "sgd_two_passes"):  # SAM over SGD, and over its own floor
                if name != base and (base == "sgd" or name.endswith("_sam")):
                    paired = [a / b for a, b in zip(t[clock], times[base][clock])]
                    res[f"ratio_{name}_to_{base}_{clock}"] = round(statistics.median(paired), 3)
    for name, t in times.items():
        res[f"{name}_faults_per_step"] = round(statistics.mean(t["faults"]), 2)
    return res


def breakdown(batch: int, steps: int, repeats: int) -> dict[str, float]:
    """Median milliseconds (thread CPU time) of each part of an SGD step and a samlib SAM step,
    timed inside the loop, the two optimizers' blocks interleaved as in :func:`time_interleaved`."""
    X, y = batch_of(batch)
    loss_fn = nn.functional.cross_entropy
    model_sgd, model_sam = make_model(), make_model()
    sgd = torch.optim.SGD(model_sgd.parameters(), **BASE_KWARGS)
    sam = SAM(model_sam.parameters(), torch.optim.SGD, rho=RHO, **BASE_KWARGS)
    parts = {
        "sgd": [("zero_grad", lambda: sgd.zero_grad(set_to_none=True)),
                ("forward_backward", lambda: loss_fn(model_sgd(X), y).backward()),
                ("step", sgd.step)],
        "sam": [("forward_backward_1", lambda: loss_fn(model_sam(X), y).backward()),
                ("first_step", lambda: sam.first_step(zero_grad=True)),
                ("forward_backward_2", lambda: loss_fn(model_sam(X), y).backward()),
                ("restore", sam.restore),
                ("base_step", sam.base_optimizer.step),
                ("zero_grad", sam.zero_grad)],
    }
    acc: dict[str, list[float]] = {f"{o}_{n}": [] for o, ps in parts.items() for n, _ in ps}
    acc.update({f"{o}_total": [] for o in parts})
    for r in range(repeats + 1):
        for opt, ps in parts.items():
            block = dict.fromkeys([n for n, _ in ps], 0.0)
            for _ in range(steps):
                for name, call in ps:
                    t0 = time.thread_time()
                    call()
                    block[name] += time.thread_time() - t0
            if r > 0:
                for name, t in block.items():
                    acc[f"{opt}_{name}"].append(t / steps)
                acc[f"{opt}_total"].append(sum(block.values()) / steps)
    return {k: round(1e3 * statistics.median(v), 4) for k, v in acc.items()}


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=41)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--breakdown", action="store_true", help="also time the parts of an SGD and a SAM step")
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
        "base_optimizer": f"torch.optim.SGD({BASE_KWARGS}), foreach=None (per-tensor loop on CPU) in every column",
        "rho": RHO,
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
        if args.breakdown:
            for batch, steps in BLOCK_STEPS.items():
                parts = breakdown(batch, steps, args.repeats)
                measured[f"batch_{batch}"].update({f"breakdown_{k}_cpu_ms": v for k, v in parts.items()})
                print(f"run {run}, batch {batch}, breakdown: " + ", ".join(f"{k}={v}" for k, v in parts.items()))
        out["runs"].append({"load_average_1min": round(load, 2), **{
            b: {k: v for k, v in r.items() if k.startswith(("ratio_samlib", "ratio_sgd_two"))}
            for b, r in measured.items()}})
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
