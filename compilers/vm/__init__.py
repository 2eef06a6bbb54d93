"""The VM: executes batches of validated programs over batches of inputs."""
from __future__ import annotations

import sys

from . import cpu, gpu
from .cpu import count_steps
from .reference import run_reference
from .status import (DEFAULT_FUEL, E_LENGTH, INVALID, LINK_MESSAGES, MAX_FUEL, OK, OUT_OF_FUEL,
                     STATUS_NAMES, Linked, Result)

__all__ = ["execute", "link", "count_steps", "run_reference", "Linked", "Result", "OK", "OUT_OF_FUEL",
           "INVALID", "STATUS_NAMES", "E_LENGTH", "LINK_MESSAGES", "DEFAULT_FUEL", "MAX_FUEL"]


def _on_cuda(code) -> bool:
    torch = sys.modules.get("torch")  # a CUDA tensor implies torch is already imported
    return torch is not None and isinstance(code, torch.Tensor) and code.is_cuda


def link(code, lengths=None) -> Linked:
    """Validate and link a batch ``code[B, L, 2]``: ``Linked(jump, status, err_pc)``.

    Torch CUDA tensors are linked on their GPU; numpy arrays and CPU tensors on the CPU.
    ``status[b]`` is 0 or a validator code (message: ``LINK_MESSAGES[status]``).
    """
    return gpu.link(code, lengths) if _on_cuda(code) else cpu.link(code, lengths)


def execute(code, inputs, nparams, lengths=None, fuel: int = DEFAULT_FUEL, *,
            linked: Linked | None = None, strict: bool = False) -> Result:
    """Run a batch of programs on inputs: ``Result(value, status, cycles)``, each int32 [B, T].

    ``code`` is ``[B, L, 2]`` (``lengths[B]`` real rows, default L); ``inputs`` is ``[T, P]``,
    shared by every program, or ``[B, T, P]``; ``nparams`` an int or ``[B]``; ``linked`` a
    previous ``link(code, lengths)``. A run that would execute more than ``fuel`` instructions
    stops with status OUT_OF_FUEL; programs that fail to link get INVALID (or, on the CPU with
    ``strict``, raise ``ValidationError``).

    Torch CUDA tensors run on their GPU, results on the same device, asynchronously; numpy
    arrays and CPU tensors run on the CPU, results of the same type.
    """
    if _on_cuda(code):
        if strict:
            raise ValueError("strict=True needs the link status on the host, which would "
                             "synchronise the GPU: check result.status == INVALID instead")
        return gpu.execute(code, inputs, nparams, lengths, fuel, linked=linked)
    return cpu.execute(code, inputs, nparams, lengths, fuel, linked=linked, strict=strict)
