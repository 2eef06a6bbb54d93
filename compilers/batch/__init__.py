"""The batched traditional compiler: source token batches -> bytecode batches, CPU or GPU.

``compile_batch`` compiles every row of a ``tokens.TokenBatch`` with the same code as
``traditional.pipeline.compile_source(batch.source(i), opt)`` at ``-O0``, ``-O1`` and ``-O2``,
bit for bit, on the batch's device: numba ``prange`` on the CPU, ``numba.cuda`` kernels on a
CUDA device (asynchronously, on torch's current stream). A program that the reference compiler
rejects, or whose code is longer than ``max_code``, gets a nonzero status and the position of
the offending token instead (at -O2 also a program whose passes need more room than the
compiler gives a row of its width: ``E_ROOM``); nothing raises for any token content.
``docs/compiler.md`` describes the design and the status codes.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ..tokens import TokenBatch
from . import cpu, gpu
from .gpu import DEFAULT_VARIANT, VARIANTS
from .status import MESSAGES, NUM_STATUSES, OK, status_message

__all__ = ["CodeBatch", "compile_batch", "DEFAULT_MAX_CODE", "OPT_LEVELS", "VARIANTS",
           "DEFAULT_VARIANT", "MESSAGES", "NUM_STATUSES", "OK", "status_message"]

OPT_LEVELS = (0, 1, 2)
DEFAULT_MAX_CODE = 256
MAX_CODE_LIMIT = 1 << 20


class CodeBatch(NamedTuple):
    """Compiled programs: int32 tensors on the batch's device.

    ``code[b, :lengths[b]]`` is program b's bytecode (rows of ``(opcode, arg)``, zero after its
    length); ``status[b]`` is 0 or a code of ``MESSAGES`` (then ``lengths[b]`` is 0 and the row
    all zero) and ``err_pos[b]`` the index of the offending token (-1 when status is 0).
    """

    code: torch.Tensor     # [B, max_code, 2]
    lengths: torch.Tensor  # [B]
    status: torch.Tensor   # [B]
    err_pos: torch.Tensor  # [B]


_COLUMNS = ("tokens", "lengths", "lits", "nlits", "nparams", "nnames")
# Integer dtypes whose every value int64 holds; wider or non-integer ones are refused.
_INTEGER_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.uint16,
                   torch.uint32)
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _int32_column(name: str, column: torch.Tensor) -> torch.Tensor:
    """A TokenBatch column as contiguous int32, decided on the device (no sync).

    Literal values wrap to int32, as every kiln literal does. In the other columns a value
    outside int32 becomes -1, which the compiler rejects with the status it gives any bad
    token id (``E_TOKEN``, at that token) or count (``E_LENGTH``): a cast would wrap it into
    some other, valid-looking value.
    """
    if column.dtype not in _INTEGER_DTYPES:
        raise TypeError(f"TokenBatch.{name} must be an integer tensor (int8..int64, uint8.."
                        f"uint32), got dtype {column.dtype}")
    if column.dtype in (torch.int64, torch.uint32) and name != "lits":
        wide = column.to(torch.int64)
        column = torch.where((wide < _INT32_MIN) | (wide > _INT32_MAX), -1, wide)
    elif column.dtype == torch.uint32:
        column = column.to(torch.int64)
    return column.to(torch.int32).contiguous()


def compile_batch(batch: TokenBatch, opt: int = 1, max_code: int = DEFAULT_MAX_CODE, *,
                  variant: str = DEFAULT_VARIANT) -> CodeBatch:
    """Compile every program of ``batch`` at level ``opt`` (0, 1 or 2) on the batch's device.

    ``max_code`` is the width of the code tensor (longer code gets a status); ``variant``
    picks the GPU kernel at -O0 and -O1 (``"thread"``: one thread per program, ``"warp"``: one
    warp per program); -O2 has one kernel (one thread per program), and the CPU one path.
    The batch's tensors may have any integer dtype up to int64 (TypeError otherwise); a token
    id, length or count outside int32 gets a status like any other bad one, and literal values
    wrap to int32.
    """
    if isinstance(opt, bool) or not isinstance(opt, (int, np.integer)) or opt not in OPT_LEVELS:
        raise ValueError(f"the batched compiler takes optimisation levels {OPT_LEVELS}, got "
                         f"{opt!r}")
    if isinstance(max_code, bool) or not isinstance(max_code, (int, np.integer)) \
            or not 1 <= max_code <= MAX_CODE_LIMIT:
        raise ValueError(f"max_code must be an int in 1..{MAX_CODE_LIMIT}, got {max_code!r}")
    if not isinstance(batch, TokenBatch):
        raise TypeError(f"compile_batch takes a TokenBatch, got {type(batch).__name__}")
    columns = [batch.tokens, batch.lengths, batch.lits, batch.nlits, batch.nparams,
               batch.nnames]
    for name, column in zip(_COLUMNS, columns):
        if not isinstance(column, torch.Tensor):
            raise TypeError(f"TokenBatch.{name} must be a torch tensor, got "
                            f"{type(column).__name__}")
    device = batch.tokens.device
    programs = batch.tokens.shape[0]
    if [c.dim() for c in columns] != [2, 1, 2, 1, 1, 1] or \
            any(c.shape[0] != programs for c in columns):
        raise ValueError("TokenBatch needs tokens [B, Ls], lits [B, K] and lengths, nlits, "
                         "nparams, nnames [B]")
    if any(c.device != device for c in columns):
        raise ValueError("every tensor of the TokenBatch must be on one device")
    columns = [_int32_column(name, c) for name, c in zip(_COLUMNS, columns)]
    if device.type == "cuda":
        return CodeBatch(*gpu.compile_tensors(*columns, int(opt), int(max_code), variant))
    arrays = [c.numpy() for c in columns]
    if opt == 2:
        out = cpu.compile_arrays_o2(*arrays, int(max_code))
    else:
        out = cpu.compile_arrays(*arrays, int(opt), int(max_code))
    return CodeBatch(*(torch.from_numpy(a) for a in out))
