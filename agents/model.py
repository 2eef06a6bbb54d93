"""``Seq2Seq``: the neural compiler's encoder-decoder transformer, with a value head.

The encoder reads a program's canonical source tokens (``compilers.tokens``); each ``LIT k``
token also carries its literal's value, bucketed (the small immediates that have a target token
of their own, or "too big"), which is what decides between ``const k`` and ``lit k`` in the
output. The decoder writes target tokens (``compilers.vocab``), one instruction each, starting
from ``BOS``. A value head reads the decoder's last hidden state at every position (PPO's critic).

Two ways to run the decoder, computing the same function:

- ``decode``: every position at once under a causal mask (teacher forcing, PPO updates);
- ``step``: one token for each of B independent *lanes*, each at its own position, with a
  preallocated KV cache (``new_cache``) that ``step`` updates in place, and per-lane resets by a
  boolean mask. Nothing in ``step`` reads a value on the host, so it runs inside a CUDA graph.

The encoder runs once per program (``encode`` gives a ``Memory``: the cross-attention keys and
values of every decoder layer); lanes point at their program's row with ``rows``, or, when
``rows`` is None, lanes come in equal consecutive groups per program (K samples of each).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..compilers import tokens as source_vocab
from ..compilers.vocab import IMM_MAX, IMM_MIN, TARGET_VOCAB_SIZE
from .config import ModelConfig

BOS = TARGET_VOCAB_SIZE  # the decoder's first input: one id past the target vocabulary
# Literal value buckets: the immediates IMM_MIN..IMM_MAX, one below, one above, and "not a
# literal" for every other source token.
_LIT_LOW, _LIT_HIGH = IMM_MIN - 1, IMM_MAX + 1
NOT_A_LITERAL = _LIT_HIGH - _LIT_LOW + 1


class Memory(NamedTuple):
    """The encoder's output for N programs, as the decoder's cross-attention reads it."""

    keys: tuple[torch.Tensor, ...]    # per decoder layer: [N, heads, S, d_head]
    values: tuple[torch.Tensor, ...]  # per decoder layer: [N, heads, S, d_head]
    attend: torch.Tensor              # bool [N, S]: source positions that hold a token
    # (end row, width) pairs, rows in order: the decode step's cross-attention of grouped lanes
    # (no ``rows``) reads only the first ``width`` source positions of the rows before ``end``
    # (their longest program's). Empty: every row reads all S.
    chunks: tuple[tuple[int, int], ...] = ()


class DecoderCache(NamedTuple):
    """Per-lane decoding state, preallocated for ``max_target_len`` positions; ``step`` updates
    its tensors in place."""

    keys: tuple[torch.Tensor, ...]    # per decoder layer: [B, heads, L, d_head]
    values: tuple[torch.Tensor, ...]  # per decoder layer: [B, heads, L, d_head]
    position: torch.Tensor            # int64 [B]: where each lane's next token goes


def _split(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, t, d = x.shape
    return x.view(b, t, heads, d // heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
               ) -> torch.Tensor:
    """Attention written out (two batched matmuls and a softmax), for the decode step: with one
    query per lane and hundreds of thousands of lanes, fused attention kernels are slower than
    this, and some refuse such batches. Every pass over the scores is in the cache's dtype (the
    softmax accumulates in float32 on CUDA): scaling the one query rather than the scores, and
    no float32 copies, saves three passes over them per call."""
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)
    # dtype given: under autocast the softmax would otherwise write float32.
    return scores.masked_fill(~mask, float("-inf")).softmax(-1, dtype=scores.dtype) @ v


def _cross_attention(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                     attend: torch.Tensor, rows: torch.Tensor | None,
                     attention=None, chunks: tuple[tuple[int, int], ...] = ()) -> torch.Tensor:
    """Queries ``[B, h, T, dh]`` of lanes over their programs' memory rows.

    With ``rows`` each lane gathers its row; without, the B lanes are N equal groups (lane
    ``i`` reads row ``i // (B // N)``) and each group's queries share one attention call, so the
    memory is never copied per lane. ``attention(q, k, v, mask)`` defaults to torch's fused one;
    given, it runs once per chunk of rows of ``chunks`` (``Memory.chunks``), over its width.
    """
    if rows is not None:
        keys, values, attend = keys[rows], values[rows], attend[rows]
    n = keys.shape[0]
    b, h, t, dh = q.shape
    g = b // n
    grouped = q.view(n, g, h, t, dh).transpose(1, 2).reshape(n, h, g * t, dh)
    mask = attend[:, None, None]
    if attention is None:
        out = F.scaled_dot_product_attention(grouped, keys, values, attn_mask=mask)
    elif rows is not None or not chunks:
        out = attention(grouped, keys, values, mask)
    else:
        starts = [0] + [end for end, _ in chunks[:-1]]
        out = torch.cat([attention(grouped[start:end], keys[start:end, :, :width],
                                   values[start:end, :, :width], mask[start:end, ..., :width])
                         for start, (end, width) in zip(starts, chunks)])
    return out.view(n, h, g, t, dh).transpose(1, 2).reshape(b, h, t, dh)


class _MLP(nn.Sequential):
    def __init__(self, d: int, d_ff: int):
        super().__init__(nn.Linear(d, d_ff), nn.GELU(), nn.Linear(d_ff, d))


class EncoderBlock(nn.Module):
    """Pre-norm self-attention and MLP over the source."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.heads = c.heads
        self.norm1, self.norm2 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model)
        self.out = nn.Linear(c.d_model, c.d_model)
        self.mlp = _MLP(c.d_model, c.d_ff)

    def forward(self, x: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        q, k, v = (_split(p, self.heads) for p in self.qkv(self.norm1(x)).chunk(3, -1))
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attend[:, None, None])
        x = x + self.out(_merge(a))
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    """Pre-norm causal self-attention, cross-attention to the source, and MLP."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.heads = c.heads
        d = c.d_model
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.self_out = nn.Linear(d, d)
        self.cross_q = nn.Linear(d, d)
        self.cross_kv = nn.Linear(d, 2 * d)
        self.cross_out = nn.Linear(d, d)
        self.mlp = _MLP(d, c.d_ff)

    def memory(self, encoded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.cross_kv(encoded).chunk(2, -1)
        # Contiguous once here: the decode step's batched matmuls would otherwise copy the
        # whole memory on every call (half the sampling time on an H200, by profile).
        return _split(k, self.heads).contiguous(), _split(v, self.heads).contiguous()

    def _rest(self, x: torch.Tensor, a: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
              attend: torch.Tensor, rows: torch.Tensor | None, attention=None,
              chunks: tuple[tuple[int, int], ...] = ()) -> torch.Tensor:
        x = x + self.self_out(_merge(a))
        q = _split(self.cross_q(self.norm2(x)), self.heads)
        x = x + self.cross_out(_merge(_cross_attention(q, keys, values, attend, rows,
                                                       attention, chunks)))
        return x + self.mlp(self.norm3(x))

    def forward(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                attend: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        q, k, v = (_split(p, self.heads) for p in self.qkv(self.norm1(x)).chunk(3, -1))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self._rest(x, a, keys, values, attend, rows)

    def step(self, x: torch.Tensor, cache_k: torch.Tensor, cache_v: torch.Tensor,
             lanes: torch.Tensor, position: torch.Tensor, seen: torch.Tensor,
             keys: torch.Tensor, values: torch.Tensor, attend: torch.Tensor,
             rows: torch.Tensor | None, chunks: tuple[tuple[int, int], ...] = ()
             ) -> torch.Tensor:
        q, k, v = (_split(p, self.heads) for p in self.qkv(self.norm1(x)).chunk(3, -1))
        cache_k[lanes, :, position] = k[:, :, 0]
        cache_v[lanes, :, position] = v[:, :, 0]
        span = seen.shape[-1]
        a = _attention(q, cache_k[:, :, :span], cache_v[:, :, :span], seen)
        return self._rest(x, a, keys, values, attend, rows, _attention, chunks)


class Seq2Seq(nn.Module):
    """The neural compiler: source tokens in, target-token logits and a value estimate out.

    ``config`` fixes every size (``ModelConfig.preset("small")`` is the shipped one).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        d = c.d_model
        self.source_embed = nn.Embedding(source_vocab.SOURCE_VOCAB_SIZE, d)
        self.literal_embed = nn.Embedding(NOT_A_LITERAL + 1, d)
        self.source_position = nn.Embedding(c.max_source_len, d)
        self.encoder = nn.ModuleList(EncoderBlock(c) for _ in range(c.encoder_layers))
        self.encoder_norm = nn.LayerNorm(d)
        self.target_embed = nn.Embedding(TARGET_VOCAB_SIZE + 1, d)
        self.target_position = nn.Embedding(c.max_target_len, d)
        self.decoder = nn.ModuleList(DecoderBlock(c) for _ in range(c.decoder_layers))
        self.decoder_norm = nn.LayerNorm(d)
        self.logits = nn.Linear(d, TARGET_VOCAB_SIZE)
        self.value = nn.Linear(d, 1)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)

    def encode(self, source: torch.Tensor, lits: torch.Tensor) -> Memory:
        """``Memory`` of N programs: ``source`` int ``[N, S]`` PAD-padded canonical tokens
        (S at most ``max_source_len``), ``lits`` int ``[N, NUM_LITS]`` their literal values."""
        n, s = source.shape
        if s > self.config.max_source_len:
            raise ValueError(f"source tokens are {s} wide; this model reads at most "
                             f"{self.config.max_source_len} (trim the padding, or use a model "
                             f"with a larger max_source_len)")
        source = source.long()
        slot = source - source_vocab.LIT0
        is_lit = (slot >= 0) & (slot < source_vocab.NUM_LITS)
        value = lits.long().gather(1, slot.clamp(0, lits.shape[1] - 1))
        bucket = torch.where(is_lit, value.clamp(_LIT_LOW, _LIT_HIGH) - _LIT_LOW, NOT_A_LITERAL)
        position = torch.arange(s, device=source.device)
        x = self.source_embed(source) + self.literal_embed(bucket) + self.source_position(position)
        # Column 0 always counts, so that even an empty row has something to attend to.
        attend = (source != source_vocab.PAD) | (position == 0)
        for block in self.encoder:
            x = block(x, attend)
        x = self.encoder_norm(x)
        kv = [block.memory(x) for block in self.decoder]
        return Memory(tuple(k for k, _ in kv), tuple(v for _, v in kv), attend)

    def hidden(self, memory: Memory, target_in: torch.Tensor,
               rows: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced decoder states ``[B, T, d_model]`` (after the final norm, before the
        heads): ``target_in`` int ``[B, T]`` is ``BOS`` then the target tokens. ``rows`` (int
        ``[B]``) picks each sequence's memory row; None: B is a multiple of the memory's N and
        sequences come in equal groups per row."""
        t = target_in.shape[1]
        position = torch.arange(t, device=target_in.device)
        x = self.target_embed(target_in.long()) + self.target_position(position)
        for block, k, v in zip(self.decoder, memory.keys, memory.values):
            x = block(x, k, v, memory.attend, rows)
        return self.decoder_norm(x)

    def decode(self, memory: Memory, target_in: torch.Tensor,
               rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[B, T, TARGET_VOCAB_SIZE]`` for the next token at every position and values
        ``[B, T]``: the heads of ``hidden(memory, target_in, rows)``."""
        x = self.hidden(memory, target_in, rows)
        return self.logits(x), self.value(x)[..., 0]

    def forward(self, source: torch.Tensor, lits: torch.Tensor, target_in: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``decode(encode(source, lits), target_in)``: one sequence per program."""
        return self.decode(self.encode(source, lits), target_in)

    def new_cache(self, lanes: int, device: torch.device | str | None = None,
                  dtype: torch.dtype | None = None, length: int | None = None) -> DecoderCache:
        """An empty cache for ``lanes`` lanes of at most ``length`` tokens (default and at most
        ``max_target_len``); every lane must be reset on its first step."""
        c = self.config
        dtype = dtype if dtype is not None else self.logits.weight.dtype
        device = device if device is not None else self.logits.weight.device
        length = c.max_target_len if length is None else length
        if not 1 <= length <= c.max_target_len:
            raise ValueError(f"cache length must be in 1..{c.max_target_len}, got {length}")
        shape = (lanes, c.heads, length, c.d_model // c.heads)

        def zeros() -> tuple[torch.Tensor, ...]:
            return tuple(torch.zeros(shape, dtype=dtype, device=device)
                         for _ in range(c.decoder_layers))

        return DecoderCache(zeros(), zeros(), torch.zeros(lanes, dtype=torch.int64,
                                                          device=device))

    def step(self, memory: Memory, cache: DecoderCache, previous: torch.Tensor,
             reset: torch.Tensor, rows: torch.Tensor | None = None, span: int | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance every lane by one token: logits ``[B, TARGET_VOCAB_SIZE]`` for its next token and
        the value ``[B]`` of its state.

        ``previous`` (int ``[B]``) is the token each lane emitted last; lanes in ``reset``
        (bool ``[B]``) start a new program instead (position 0, input ``BOS``, their cached
        past forgotten). ``rows`` as in ``decode``. The cache is updated in place; a lane's
        position stops at the cache's last one.

        ``span``, when every lane's position is known to be below it (lanes that advance in
        lockstep, as ``sampling.sample``'s do), is how much of the cache self-attention reads:
        the rest holds no token of any lane yet, and reading it is most of a step's time early
        in a long cache.
        """
        position = cache.position.masked_fill_(reset, 0)
        token = torch.where(reset, BOS, previous.long())
        x = (self.target_embed(token) + self.target_position(position))[:, None]
        lanes = torch.arange(token.shape[0], device=token.device)
        span = cache.keys[0].shape[2] if span is None else span
        seen = (torch.arange(span, device=token.device) <= position[:, None])[:, None, None]
        for block, ck, cv, k, v in zip(self.decoder, cache.keys, cache.values, memory.keys,
                                       memory.values):
            x = block.step(x, ck, cv, lanes, position, seen, k, v, memory.attend, rows,
                           memory.chunks)
        position.add_(1).clamp_(max=cache.keys[0].shape[2] - 1)
        x = self.decoder_norm(x[:, 0])
        return self.logits(x), self.value(x)[:, 0]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
