from __future__ import annotations

import importlib.util

import pytest


if importlib.util.find_spec("torch") is None:
    # Without the ``rec`` extra there is nothing here to test.
    collect_ignore_glob = ["test_*.py"]
else:
    import torch

    @pytest.fixture(autouse=True)
    def single_torch_thread():
        """One thread: the tests use tiny tensors, and the CI machine is shared."""
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(previous)
