"""Counter-based random draws: the single env, the vector env and the evaluation protocol.

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

MASK32 = 0xFFFFFFFF

# Purposes: each draw of an episode hashes its own tag, so draws are independent. PROGRAM picks
# an env's program, TESTS seeds ``evaluation.test_inputs``.
PROGRAM, TESTS = range(2)

GOLDEN = 0x9E3779B9  # 2**32 / golden ratio: the counter-mode stride


def mul32(h: torch.Tensor, c: int) -> torch.Tensor:
    """``h * c mod 2**32`` for ``h`` in 0..2**32-1, in halves so that int64 never overflows."""
    return (h * (c & 0xFFFF) + (((h * (c >> 16)) & 0xFFFF) << 16)) & MASK32


def fmix32(h: torch.Tensor) -> torch.Tensor:
    """murmur3's finaliser: a bijection on 32-bit words (held in int64) that mixes every bit."""
    h = h ^ (h >> 16)
    h = mul32(h, 0x85EBCA6B)
    h = h ^ (h >> 13)
    h = mul32(h, 0xC2B2AE35)
    return h ^ (h >> 16)


def hash32(*words: torch.Tensor | int) -> torch.Tensor:
    """A 32-bit hash (int64 tensor, values 0..2**32-1) of 32-bit words, broadcast together:
    each word is folded into the state, which is then mixed by ``fmix32`` (a bijection)."""
    device = next((w.device for w in words if isinstance(w, torch.Tensor)), None)
    h = torch.full((), 0x6A09E667, dtype=torch.int64, device=device)
    for w in words:  # ints stay Python scalars: a scalar tensor would be a copy to the device
        h = fmix32(((h ^ (w & MASK32)) + GOLDEN) & MASK32)
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
