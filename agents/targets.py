"""Target token rows for a batch of bytecode: ``vocab.encode`` for many programs at once, in torch.

The imitation targets come from here: the batched compiler's code, spelled in the target
vocabulary on the device where it was compiled. A program whose code the vocabulary cannot
spell (a folded constant that is neither a small immediate nor a literal of the source), or
that does not fit the length, is flagged rather than guessed.
"""
from __future__ import annotations

import numpy as np
import torch

from ..compilers import isa, vocab
from ..compilers.tokens import TokenBatch

_ARG_SPAN = int(vocab.TOKEN_ARG.max()) - vocab.IMM_MIN + 1


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """(token of (opcode, arg - IMM_MIN), -1 where none; token of ``lit j``), read off the
    vocabulary's own per-token arrays."""
    by_op_arg = np.full((isa.NUM_OPS, _ARG_SPAN), -1, dtype=np.int64)
    lit_token = np.zeros(vocab.MAX_LITS, dtype=np.int64)
    for token in range(vocab.TARGET_VOCAB_SIZE):
        op, arg, lit = vocab.TOKEN_OP[token], vocab.TOKEN_ARG[token], vocab.TOKEN_LIT[token]
        if lit >= 0:
            lit_token[lit] = token
        elif op >= 0:
            by_op_arg[op, arg - vocab.IMM_MIN] = token
    return by_op_arg, lit_token


_BY_OP_ARG, _LIT_TOKEN = _tables()


def encode_batch(code: torch.Tensor, lengths: torch.Tensor, lits: torch.Tensor,
                 nlits: torch.Tensor, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Target tokens ``[B, max_len]`` (int64: the program, ``eos``, then zeros) of bytecode
    ``code[B, Lc, 2]`` with ``lengths[B]`` instructions, and ``ok[B]``: the row equals
    ``vocab.encode(code[b, :lengths[b]], lits[b, :nlits[b]])`` and fits in ``max_len`` tokens
    with its ``eos``. Elsewhere the row is junk. No host synchronisation."""
    device = code.device
    by_op_arg = torch.as_tensor(_BY_OP_ARG, device=device)
    lit_token = torch.as_tensor(_LIT_TOKEN, device=device)
    arg_kind = torch.as_tensor(isa.OP_ARG_KIND, device=device)
    width = code.shape[1]
    op = code[..., 0].long().clamp(0, isa.NUM_OPS - 1)
    arg = code[..., 1].long()
    # As vocab.encode: an operand-less opcode's token ignores its arg.
    arg = torch.where(arg_kind[op] == isa.ARG_KIND_CODE[isa.NONE], 0, arg)
    offset = arg - vocab.IMM_MIN
    in_span = (offset >= 0) & (offset < _ARG_SPAN)
    token = torch.where(in_span, by_op_arg[op, offset.clamp(0, _ARG_SPAN - 1)], -1)
    slots = torch.arange(lits.shape[1], device=device)
    match = (lits.long()[:, None, :] == code[..., 1].long()[..., None]) \
        & (slots < nlits.long()[:, None])[:, None, :]
    first = match.to(torch.int8).argmax(-1)
    literal = torch.where(match.any(-1), lit_token[first.clamp(max=vocab.MAX_LITS - 1)], -1)
    big_const = (code[..., 0] == isa.CONST) & ~((arg >= vocab.IMM_MIN) & (arg <= vocab.IMM_MAX))
    token = torch.where(big_const, literal, token)
    real = torch.arange(width, device=device)[None] < lengths.long()[:, None]
    ok = ((token >= 0) | ~real).all(1) & (lengths.long() + 1 <= max_len)
    token = torch.where(real, token.clamp(min=0), vocab.EOS)
    out = torch.zeros((code.shape[0], max_len), dtype=torch.int64, device=device)
    keep = min(width, max_len)
    out[:, :keep] = token[:, :keep]
    return out, ok


def oracle_targets(batch: TokenBatch, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The imitation target of every program of ``batch``, on its device: the -O1 code of the
    batched compiler where the vocabulary can spell it within ``max_len`` tokens, else the -O0
    code (no constant folding, so every constant is a small immediate or a source literal).
    Returns (tokens ``[B, max_len]``, ok ``[B]``)."""
    from ..compilers.batch import compile_batch

    rows = []
    for opt in (1, 0):
        code = compile_batch(batch, opt, max_len)
        tokens, ok = encode_batch(code.code, code.lengths, batch.lits, batch.nlits, max_len)
        rows.append((tokens, ok & (code.status == 0)))
    (t1, ok1), (t0, ok0) = rows
    return torch.where(ok1[:, None], t1, t0), ok1 | ok0
