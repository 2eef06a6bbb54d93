"""Test session setup: stop at once, with the fix, when kiln is not installed."""
import pytest

try:
    import kiln  # noqa: F401
except ImportError as error:  # kiln/__init__.py says how to install when that is the cause
    raise pytest.UsageError(f"cannot import kiln: {error}") from error


@pytest.fixture
def one_torch_thread():
    """torch on one thread: small models only make extra threads fight for the cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
