"""The rules of an episode in progress, on tensors: one definition for both envs.

A ``LaneState`` holds every lane's target tokens, stack height and open blocks; ``transition``
applies one token per lane (the validator's stack and nesting rule, incremental), ``lane_mask``
gives the tokens allowed next (``vocab.action_mask``, itself ``validate.check_step`` over the
vocabulary). The vector env steps its lanes with them on its device, and the single env steps
its one episode with them as a batch of one on the CPU, so the two cannot drift apart.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from ..compilers import isa, vocab
from ..compilers.isa import MAX_NEST
from ..compilers.validate import K_BLOCK, K_ELSE, K_IF, K_LOOP
from ..compilers.vocab import EOS, TARGET_VOCAB_SIZE

if TYPE_CHECKING:
    from .compile_env import EnvParams

# The kind of block each target token opens (-1: it opens none), for the validator's kinds stack.
OPEN_KIND = np.select([vocab.TOKEN_OP == isa.BLOCK, vocab.TOKEN_OP == isa.LOOP,
                       vocab.TOKEN_OP == isa.IF], [K_BLOCK, K_LOOP, K_IF], -1).astype(np.int64)


class LaneState(NamedTuple):
    """The state of every lane, ``[B, ...]`` tensors on the env's device."""

    key_lo: torch.Tensor    # int64: the draws' key (reset seed + lane), low 32 bits
    key_hi: torch.Tensor    # int64: high 32 bits
    episode: torch.Tensor   # int64: episodes since the key was set
    program: torch.Tensor   # int64: row of the program table
    target: torch.Tensor    # int32 [B, max_len]: tokens emitted so far, then 0
    length: torch.Tensor    # int64: tokens emitted
    height: torch.Tensor    # int64: operand stack height
    nest: torch.Tensor      # int64: open blocks
    kinds: torch.Tensor     # int64 [B, MAX_NEST]: kinds of the open blocks, outermost first
    mask: torch.Tensor      # bool [B, TARGET_VOCAB_SIZE]: the action mask of this state


class TokenTables(NamedTuple):
    """Per-token tables on the device: ``vocab.MaskTables``'s fields (so ``vocab.action_mask``
    reads this directly) and what decoding and the kinds stack need. A flat tuple of tensors,
    which ``torch.compile`` takes as it is."""

    pops: torch.Tensor
    pushes: torch.Tensor
    control: torch.Tensor
    opens: torch.Tensor
    closes: torch.Tensor
    nest_delta: torch.Tensor
    is_else: torch.Tensor
    depth: torch.Tensor
    lit: torch.Tensor        # literal index (-1: none)
    is_eos: torch.Tensor
    op: torch.Tensor         # int32: opcode (-1 for eos)
    arg: torch.Tensor        # int32: immediate, slot or depth
    open_kind: torch.Tensor  # kind of block opened (-1: none)


def token_tables(device: torch.device) -> TokenTables:
    def put(a: np.ndarray) -> torch.Tensor:
        # int32 halves the memory traffic of the [B, TARGET_VOCAB_SIZE] mask arithmetic.
        return torch.as_tensor(a.astype(np.int32) if a.dtype == np.int64 else a, device=device)

    mask = vocab.TABLES.to(put)
    return TokenTables(**mask.__dict__, op=put(vocab.TOKEN_OP), arg=put(vocab.TOKEN_ARG),
                   open_kind=put(OPEN_KIND))


def lane_mask(state: LaneState, nlits: torch.Tensor, params: EnvParams,
              tables: TokenTables) -> torch.Tensor:
    """``vocab.action_mask`` for every lane: bool ``[B, TARGET_VOCAB_SIZE]``."""
    top = state.kinds.gather(1, (state.nest - 1).clamp(min=0)[:, None])[:, 0]
    top_kind = torch.where(state.nest > 0, top, -1)

    def column(x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.int32)[:, None]

    return vocab.action_mask(column(state.height), column(state.nest), column(top_kind),
                             column(nlits), column(params.max_len - state.length), tables)


def transition(s: LaneState, actions: torch.Tensor, t: TokenTables, params: EnvParams
               ) -> tuple[LaneState, torch.Tensor, torch.Tensor]:
    """Apply one token per lane: ``(stepped, valid, eos)``; an invalid token changes nothing.

    ``stepped`` keeps the lanes' old mask: the episode's end and the reset decide the next one.
    """
    in_range = (actions >= 0) & (actions < TARGET_VOCAB_SIZE)
    token = torch.where(in_range, actions, 0)
    valid = in_range & s.mask.gather(1, token[:, None])[:, 0]
    eos = valid & (token == EOS)
    emit = valid & ~eos
    at = s.length.clamp(max=params.max_len - 1)[:, None]
    target = s.target.scatter(1, at, torch.where(valid, token.to(torch.int32),
                                                 s.target.gather(1, at)[:, 0])[:, None])
    height = s.height + torch.where(emit, t.pushes[token] - t.pops[token], 0)
    open_kind = t.open_kind[token]
    opens = emit & (open_kind >= 0)
    relabel = emit & t.is_else[token]
    slot = torch.where(opens, s.nest, s.nest - 1).clamp(0, MAX_NEST - 1)[:, None]
    kind = torch.where(opens, open_kind,
                       torch.where(relabel, K_ELSE, s.kinds.gather(1, slot)[:, 0]))
    # Records are rebuilt field by field rather than with _replace, which torch.compile
    # (2.13) mistraces.
    stepped = LaneState(s.key_lo, s.key_hi, s.episode, s.program, target,
                        s.length + valid.to(torch.int64), height,
                        s.nest + torch.where(emit, t.nest_delta[token], 0),
                        s.kinds.scatter(1, slot, kind[:, None]), s.mask)
    return stepped, valid, eos
