"""Launching kiln's ``numba.cuda`` kernels: the one place that knows how.

The GPU VM (``vm.gpu``), the batched compiler (``batch.gpu``) and the program generator
(``programs.generator_gpu``) all launch through ``launch``:

- ``numba.cuda`` is imported on first use (``numba_cuda``), so the modules that launch import
  anywhere, and ``is_simulator`` says whether it is numba's CUDA simulator
  (``NUMBA_ENABLE_CUDASIM=1``), where kernels run as Python on numpy arrays (how CI tests them);
- on a GPU, kernels take torch CUDA tensors without copies and run on torch's current stream of
  the tensors' device, with no host synchronisation;
- a kernel that was launched once with the same argument types is then launched through a thin
  path (``_FastLaunch``): the argument list that numba would build is built directly from the
  tensors' pointers, shapes and strides, and handed to the CUDA driver through ``cuda.core``,
  skipping numba's dispatcher, its array views and their typing, which cost several hundred
  microseconds per call. Where the installed ``numba-cuda`` lacks the internals that path reads,
  every launch takes numba's ordinary path (``fast_path_available`` says which is used).
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import sys
import warnings
from collections.abc import Iterator
from typing import Any

# numba warns that a small grid under-uses the GPU; a small batch needs no more. Matched by
# message, which numba's built-in CUDA target and the numba-cuda package share.
_SMALL_GRID_WARNING = r".*Grid size \d+ will likely result in GPU under-utilization"


@functools.cache
def is_simulator() -> bool:
    """Whether kernels run on numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def numba_cuda() -> Any:
    """The ``numba.cuda`` module (the simulator's under ``NUMBA_ENABLE_CUDASIM=1``).

    A module that defines kernels binds it to a module global named ``cuda`` on first use: the
    simulator swaps the globals that name it for its own emulation while a kernel runs.
    """
    from numba import cuda

    return cuda


@functools.cache
def sm_count(index: int) -> int:
    """Streaming multiprocessors of CUDA device ``index``."""
    import torch

    return torch.cuda.get_device_properties(index).multi_processor_count


def cuda_device(device: Any = None) -> Any:
    """``device`` (default: the current CUDA device) as a ``torch.device`` with an index;
    ValueError when it is not a CUDA device."""
    import torch

    device = torch.device("cuda" if device is None else device)
    if device.type != "cuda":
        raise ValueError(f"expected a CUDA device, got {device}")
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def blocks_for(items: int, threads: int, max_blocks: int) -> int:
    """Blocks of ``threads`` that cover ``items`` (at least 1), at most ``max_blocks``."""
    return max(1, min(math.ceil(items / threads), max_blocks))


def launch(kernel: Any, blocks: int, threads: int, *args: Any) -> None:
    """Launch ``kernel[blocks, threads](*args)``.

    On the GPU, tensor arguments are torch CUDA tensors of one device, and the kernel runs on
    that device's current torch stream (nothing waits for it); in the simulator they are numpy
    arrays. Scalars are Python ints.
    """
    if is_simulator():
        kernel[blocks, threads](*args)
        return
    torch = sys.modules["torch"]
    index = next(a.get_device() for a in args if isinstance(a, torch.Tensor))
    stream = current_stream(torch, index)
    if _FAST.launch(kernel, blocks, threads, stream, index, args):
        _COUNTS["thin"] += 1
        return
    _COUNTS["numba"] += 1
    cuda = numba_cuda()
    with cuda.gpus[index]:
        # sync=False: the kernel runs on the producer's stream, so numba must not block the host
        # waiting for it.
        views = [cuda.as_cuda_array(a, sync=False) if isinstance(a, torch.Tensor) else a
                 for a in args]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_SMALL_GRID_WARNING)
            kernel[blocks, threads, cuda.external_stream(stream)](*views)
    _FAST.learn(kernel, index, args, views)


def current_stream(torch: Any, index: int) -> int:
    """The raw handle of torch's current stream on CUDA device ``index``."""
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)  # what torch.compile's code uses
    if raw is not None:
        return raw(index)
    return torch.cuda.current_stream(index).cuda_stream


def fast_path_available() -> bool:
    """Whether repeated launches take the thin path (see the module docstring)."""
    return not is_simulator() and _FAST.ready()


def launch_counts() -> dict[str, int]:
    """GPU launches so far by path: ``thin`` (``cuda.core``) and ``numba`` (its dispatcher)."""
    return dict(_COUNTS)


_COUNTS = {"thin": 0, "numba": 0}


class _FastLaunch:
    """Launches of kernels that numba has compiled for the same argument types, without numba.

    After an ordinary launch, ``learn`` finds the compiled overload numba chose and keeps its
    driver-level kernel, keyed by the kernel, the device and the argument layout (tensor ranks,
    scalar kinds). ``launch`` then flattens the arguments as numba's ``_Kernel._prepare_args``
    does for C-contiguous arrays (meminfo, parent, size, itemsize, data pointer, shape, strides
    in bytes) and integers (their ctypes value), and launches with ``cuda.core``.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple, tuple[Any, Any, tuple]] = {}
        self._api: tuple[Any, Any, Any, bool, Any] | None = None
        self._disabled = False
        self._configs: dict[tuple[int, int], Any] = {}
        self._streams: dict[int, Any] = {}  # cuda.core Streams by raw handle

    def ready(self) -> bool:
        """Whether the installed numba-cuda launches through ``cuda.core`` as this expects."""
        if self._api is None and not self._disabled:
            try:
                from cuda.core import Stream
                from numba.cuda import dispatcher
                from numba.cuda._compat import CUDA_CORE_GE_1_0
                self._api = (dispatcher.launch, dispatcher.LaunchConfig, dispatcher.types.Array,
                             bool(CUDA_CORE_GE_1_0), Stream)
            except (ImportError, AttributeError):
                self._disabled = True
        return not self._disabled

    @staticmethod
    def _flatten(index: int, args: tuple) -> tuple[tuple, list] | None:
        """The argument layout (tensor ranks, -1 for an int) and numba's flattened argument
        list, ints left as they are; None for arguments the thin path does not take."""
        torch = sys.modules["torch"]
        layout = []
        flat: list[Any] = []
        for a in args:
            if type(a) is int:
                layout.append(-1)
                flat.append(a)
            elif isinstance(a, torch.Tensor) and a.dtype == torch.int32 and \
                    a.get_device() == index and a.is_contiguous():
                shape = a.shape
                layout.append(len(shape))
                strides, step = [], 4
                for n in reversed(shape):  # C strides, as numba derives for a contiguous view
                    strides.append(step)
                    step *= n
                flat += (0, 0, a.numel(), 4, a.data_ptr(), *shape, *reversed(strides))
            else:
                return None
        return tuple(layout), flat

    def learn(self, kernel: Any, index: int, args: tuple, views: list) -> None:
        """Remember the overload that numba just launched for these argument types."""
        flattened = self._flatten(index, args)
        if flattened is None or not self.ready():
            return
        key = (id(kernel), index, flattened[0])
        if key in self._entries:
            return
        try:
            overload = kernel.overloads[tuple(kernel.typeof_pyval(v) for v in views)]
            if overload.debug or overload.cooperative or overload.extensions:
                return
            array = self._api[2]
            scalars = []  # (position in the flat list, its ctypes type)
            at = 0
            for t, rank in zip(overload.argument_types, flattened[0]):
                if isinstance(t, array) != (rank >= 0):
                    return
                if rank >= 0:
                    if t.layout != "C" or str(t.dtype) != "int32":
                        return
                    at += 5 + 2 * rank
                else:
                    scalars.append((at, getattr(ctypes, f"c_{t}")))
                    at += 1
            with numba_cuda().gpus[index]:
                function = overload._codelibrary.get_cufunc().kernel
        except (AttributeError, KeyError, TypeError):
            return
        self._entries[key] = (kernel, function, tuple(scalars))

    def launch(self, kernel: Any, blocks: int, threads: int, stream: int, index: int,
               args: tuple) -> bool:
        """Launch through the thin path if this kernel and layout were learned; else False."""
        if self._disabled:
            return False
        flattened = self._flatten(index, args)
        if flattened is None:
            return False
        layout, flat = flattened
        entry = self._entries.get((id(kernel), index, layout))
        if entry is None or entry[0] is not kernel:  # (an id can be reused by a new kernel)
            return False
        _, function, scalars = entry
        for at, ctype in scalars:
            flat[at] = ctype(flat[at])
        launch_fn, config_cls, _, new_api, stream_cls = self._api
        config = self._configs.get((blocks, threads))
        if config is None:
            extra = {"is_cooperative": False} if new_api else {"cooperative_launch": False}
            config = config_cls(grid=blocks, block=threads, shmem_size=0, **extra)
            self._configs[(blocks, threads)] = config
        wrapped = self._streams.get(stream)
        if wrapped is None:  # a cuda.core Stream over torch's handle, made once
            wrapped = self._streams.setdefault(stream, stream_cls.from_handle(stream))
        try:
            launch_fn(wrapped, config, function, *flat)
        except TypeError:  # a cuda.core whose launch takes other arguments: numba's path
            self._disabled = True
            return False
        return True


_FAST = _FastLaunch()


@contextlib.contextmanager
def host_sync_forbidden(torch: Any) -> Iterator[None]:
    """Inside the block, any torch operation that synchronises with the host raises (torch's sync
    debug mode "error"); the mode is back to "default" afterwards, whatever happens.

    torch warns that the mode is a prototype each time it is switched on; with warnings as errors
    that warning would escape after the mode was set and leave it on, so it is silenced here.
    The mode sees only torch's own synchronisations, not numba's or the driver's.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Synchronization debug mode is a prototype")
            torch.cuda.set_sync_debug_mode("error")
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")
