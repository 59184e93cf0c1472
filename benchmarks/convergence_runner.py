"""Benchmark of samlib.studies.convergence.run_stochastic_sam: 1000 replicates x T = 1e5 x d = 10.

Target (issue 7): <= 20 s on one core.  Runs the timed call ``--repeats`` times (other
processes may share the cores, so the minimum and the median are reported), prints one
JSON object on its last line and writes it to benchmarks/results/convergence_runner.json.

Usage: .venv/bin/python benchmarks/convergence_runner.py [--repeats 3] [--steps 100000]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from samlib.studies.convergence import run_stochastic_sam, tilted_pseudo_huber

from _common import machine_fields, write_result  # noqa: E402  (benchmarks/ is on sys.path)




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=10)
    ap.add_argument("--no-write", action="store_true", help="do not write the results file")
    args = ap.parse_args()

    torch.set_num_threads(1)
    fn = tilted_pseudo_huber(args.dim, c=0.5)
    kwargs = dict(lr0=0.5, rho0=0.2, sigma=1.0, num_steps=args.steps,
                  replicates=args.replicates, seed=0)
    run_stochastic_sam(fn, 2.0, **{**kwargs, "num_steps": 1000})  # warm-up
    seconds, cpu_seconds = [], []
    for i in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        res = run_stochastic_sam(fn, 2.0, **kwargs)
        seconds.append(time.perf_counter() - t0)
        # CPU time of this process: less sensitive than wall time to other jobs on the cores
        cpu_seconds.append(time.process_time() - c0)
        print(f"repeat {i + 1}: {seconds[-1]:.2f} s wall, {cpu_seconds[-1]:.2f} s CPU", flush=True)
    draws = 2 * args.replicates * args.steps * args.dim
    best = min(seconds)
    out = {
        "benchmark": "convergence_runner",
        "seconds": round(best, 3),
        "seconds_min": round(best, 3),
        "seconds_median": round(statistics.median(seconds), 3),
        "seconds_all": [round(s, 3) for s in seconds],
        "cpu_seconds_min": round(min(cpu_seconds), 3),
        "cpu_seconds_median": round(statistics.median(cpu_seconds), 3),
        "repeats": args.repeats,
        "replicates": args.replicates,
        "T": args.steps,
        "d": args.dim,
        "draws": draws,
        "draws_per_second": round(draws / best),
        "steps_per_second": round(args.steps / best),
        "target_seconds": 20,
        "meets_target": best <= 20,
        "final_mean_avg_sq_grad": float(res.avg_sq_grad[-1].mean()),
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "dtype": "float32",
        **machine_fields(),
    }
    write_result("convergence_runner", out, write=not args.no_write)


if __name__ == "__main__":
    main()
