import pathlib
import sys

# lets the tests import tests/toc.py as `toc`
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's torch tests on one thread: for tiny tensors intra-op threads only add
    contention (10-100x slower on a busy 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
