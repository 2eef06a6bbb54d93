"""The GPU launch module's host-side logic, on the CPU (tests/test_gpu.py launches for real).

The thin launch path must hand the driver the argument list numba builds for a kernel: per
array, meminfo and parent (0), element count, item size, data pointer, shape, and strides in
bytes; per integer, the integer. The strides are the C-contiguous ones numba derives.
"""
import numpy as np
import pytest
import torch

from kiln.compilers import gpu_launch

CPU = -1  # what torch's get_device() says for a CPU tensor


@pytest.mark.parametrize("shape", [(7,), (3, 5), (4, 6, 2), (1, 64, 6)])
def test_flatten_matches_numbas_array_arguments(shape):
    x = torch.arange(int(np.prod(shape)), dtype=torch.int32).reshape(shape)
    layout, flat = gpu_launch._FastLaunch._flatten(CPU, (x, 12345))
    assert layout == (len(shape), -1)
    strides = np.empty(shape, np.int32).strides
    assert flat == [0, 0, x.numel(), 4, x.data_ptr(), *shape, *strides, 12345]


@pytest.mark.parametrize("arg", [torch.zeros(4, dtype=torch.int64), torch.zeros((4, 4),
                                 dtype=torch.int32).t(), True, 1.5, np.int32(3)])
def test_flatten_refuses_what_the_thin_path_does_not_take(arg):
    """Other dtypes, non-contiguous tensors and non-int scalars go through numba's launch."""
    assert gpu_launch._FastLaunch._flatten(CPU, (torch.zeros(2, dtype=torch.int32), arg)) is None


def test_flatten_refuses_tensors_of_another_device():
    assert gpu_launch._FastLaunch._flatten(0, (torch.zeros(2, dtype=torch.int32),)) is None


def test_blocks_for():
    assert gpu_launch.blocks_for(0, 256, 100) == 1
    assert gpu_launch.blocks_for(257, 256, 100) == 2
    assert gpu_launch.blocks_for(10**9, 256, 100) == 100
