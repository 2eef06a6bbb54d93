"""Counter-based random draws shared by the single and the vector env.

Every random choice of an episode (which program, which test inputs) is a pure function of the
counters ``(key, episode, purpose, index...)`` hashed with murmur3's 32-bit finaliser, computed
in torch int64 arithmetic that never overflows. The same function on the CPU and on CUDA gives
the same bits, and a lane of the vector env draws exactly what a single env with the same key
draws, whatever the other lanes do. This is what makes the single env and the vector env
trajectory-for-trajectory comparable.

A *key* is a 64-bit integer, carried as two 32-bit words ``(lo, hi)`` in int64 tensors: the
single env's key is its reset seed; lane ``i`` of a vector env reset with seed ``s`` has key
``s + i`` (mod 2**64), the same convention as ``gymnasium.vector.SyncVectorEnv``.
"""
from __future__ import annotations

import torch

from ..compilers.isa import INT32_MAX, INT32_MIN, MAX_PARAMS

MASK32 = 0xFFFFFFFF

# Purposes: each draw of an episode hashes its own tag, so draws are independent.
PROGRAM, TESTS = range(2)

EDGE_ROWS = 8     # test rows that hold edge values (each parameter sees each edge kind once)
SMALL_RANGE = 16  # "small" random inputs are in -SMALL_RANGE..SMALL_RANGE
_GOLDEN = 0x9E3779B9


def _mul32(h: torch.Tensor, c: int) -> torch.Tensor:
    """``h * c mod 2**32`` for ``h`` in 0..2**32-1, in halves so that int64 never overflows."""
    return (h * (c & 0xFFFF) + (((h * (c >> 16)) & 0xFFFF) << 16)) & MASK32


def fmix32(h: torch.Tensor) -> torch.Tensor:
    """murmur3's finaliser: a bijection on 32-bit words (held in int64) that mixes every bit."""
    h = h ^ (h >> 16)
    h = _mul32(h, 0x85EBCA6B)
    h = h ^ (h >> 13)
    h = _mul32(h, 0xC2B2AE35)
    return h ^ (h >> 16)


def hash32(*words: torch.Tensor | int) -> torch.Tensor:
    """A 32-bit hash (int64 tensor, values 0..2**32-1) of 32-bit words, broadcast together:
    each word is folded into the state, which is then mixed by ``fmix32`` (a bijection)."""
    device = next((w.device for w in words if isinstance(w, torch.Tensor)), None)
    h = torch.full((), 0x6A09E667, dtype=torch.int64, device=device)
    for w in words:  # ints stay Python scalars: a scalar tensor would be a copy to the device
        h = fmix32(((h ^ (w & MASK32)) + _GOLDEN) & MASK32)
    return h


def split_key(seed: int, lanes: int, device: torch.device | str | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Key words ``(lo, hi)`` of lanes ``0..lanes-1`` for a reset with ``seed``: ``seed + i``."""
    seed %= 2**64
    offsets = torch.arange(lanes, dtype=torch.int64, device=device) + (seed & MASK32)
    return offsets & MASK32, ((offsets >> 32) + (seed >> 32)) & MASK32


def draw(key_lo: torch.Tensor, key_hi: torch.Tensor, episode: torch.Tensor,
         purpose: int) -> torch.Tensor:
    """The 32-bit draw for ``purpose`` of each lane's episode (int64, values 0..2**32-1);
    episodes count modulo 2**32."""
    return hash32(key_lo, key_hi, episode, purpose)


def _edge_value(kind: torch.Tensor, power: torch.Tensor) -> torch.Tensor:
    """Edge case ``kind`` (0..7): 0, 1, -1, INT_MIN, INT_MAX, power, -power, power - 1.

    A chain of selects rather than a lookup table: a table would have to be copied to the
    device, which synchronises with it.
    """
    values = (0, 1, -1, INT32_MIN, INT32_MAX)
    edge = torch.where(kind == 5, power, torch.where(kind == 6, -power, power - 1))
    for k in reversed(range(len(values))):
        edge = torch.where(kind == k, values[k], edge)
    return edge


def test_inputs(key_lo: torch.Tensor, key_hi: torch.Tensor, episode: torch.Tensor,
                num_tests: int) -> torch.Tensor:
    """The test inputs of each lane's episode: int32 ``[B, num_tests, MAX_PARAMS]``.

    ``key_lo``, ``key_hi`` and ``episode`` are int64 ``[B]``. Rows ``0..EDGE_ROWS-1`` are edge
    cases: each parameter takes each of ``0, 1, -1, INT_MIN, INT_MAX, 2**k, -2**k, 2**k - 1``
    (``k`` drawn in 1..30) once, in an order rotated per parameter by a draw, so the
    combinations change every episode. The other rows mix small values (-16..16, a quarter),
    signed powers of two ``±2**k`` (k in 0..30, a quarter) and uniform int32 (half).
    """
    device = key_lo.device
    base = draw(key_lo, key_hi, episode, TESTS)[:, None, None]
    row = torch.arange(num_tests, dtype=torch.int64, device=device)[None, :, None]
    param = torch.arange(MAX_PARAMS, dtype=torch.int64, device=device)[None, None, :]
    # One fresh word per (row, param) from a per-episode base: a counter-mode hash, so each
    # element costs two mixes however the batch is laid out.
    value = fmix32((base + _mul32(row * MAX_PARAMS + param + 1, _GOLDEN)) & MASK32)
    bits = fmix32(value ^ 0x5BD1E995)
    rotation = fmix32((base ^ (param + 0x1B873593)) & MASK32) % EDGE_ROWS

    power = 1 << (bits >> 8) % 31
    edge = _edge_value((row + rotation) % EDGE_ROWS, power.clamp(min=2))
    small = (bits >> 2) % (2 * SMALL_RANGE + 1) - SMALL_RANGE
    signed_power = torch.where((bits >> 16) & 1 == 1, -power, power)
    uniform = value - (value > INT32_MAX).to(torch.int64) * 2**32
    kind = bits & 3
    rand = torch.where(kind == 0, small, torch.where(kind == 1, signed_power, uniform))
    return torch.where(row < EDGE_ROWS, edge, rand).to(torch.int32)


