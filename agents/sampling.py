"""Batched sampling: K candidate programs for each of N source programs, on the model's device.

``sample`` runs the encoder once per program, then the decoder for a fixed number of steps over
all ``N * K`` lanes at once (``Seq2Seq.step``, a preallocated KV cache). Every token is drawn
under the environment's action mask (``envs.lanes.lane_mask`` and ``transition``, which apply
``vocab.action_mask``: the validator's rule), so every candidate is a valid program that ends
within ``max_len`` tokens. The loop never asks the GPU anything: it runs exactly ``max_len``
steps (finished lanes keep emitting ``eos``), random draws are a counter-based hash of
``(seed, lane, step, token)`` (``compilers.hashing``) rather than a generator's state, and each
step updates a fixed set of tensors in place, so on CUDA the step is captured in CUDA graphs and
replayed. Lanes advance in lockstep, so the host knows how far the KV cache is filled: each
step's self-attention reads only the cache's first ``span`` positions (``span_at``), one graph
per span.
"""
from __future__ import annotations

import contextlib
from dataclasses import fields
from typing import NamedTuple

import torch

from ..compilers import gpu_launch, hashing
from ..compilers.isa import MAX_NEST
from ..compilers.tokens import TokenBatch
from ..compilers.vocab import EOS, TARGET_VOCAB_SIZE
from ..envs.compile_env import EnvParams
from ..envs.lanes import LaneState, lane_mask, token_tables, transition
from ..envs.vector_env import decode
from .model import Seq2Seq


class Candidates(NamedTuple):
    """``N * K`` sampled programs, lane ``n * K + k`` the k-th sample of program n."""

    tokens: torch.Tensor   # int32 [N*K, max_len]: target tokens, eos then zeros after the end
    code: torch.Tensor     # int32 [N*K, max_len, 2]: bytecode (rows past `lengths` are junk)
    lengths: torch.Tensor  # int32 [N*K]: instructions (eos excluded)
    logprob: torch.Tensor  # float32 [N*K]: sum of the tokens' log-probabilities under the mask


def source_width(batch: TokenBatch, model: Seq2Seq) -> int:
    """The width the encoder needs for ``batch`` (its longest program; one host read, before any
    loop); ValueError if a program is longer than the model reads."""
    width = max(1, int(batch.lengths.max())) if len(batch) else 1
    if width > model.config.max_source_len:
        row = int(batch.lengths.argmax())
        raise ValueError(f"program {row} has {width} source tokens; the model reads at most "
                         f"{model.config.max_source_len}")
    return width


SPAN_STEP = 8  # self-attention spans grow in steps of this many positions (one graph each)
# Programs per chunk of the decode step's cross-attention when ``sample`` sorts them by length.
CHUNK_PROGRAMS = 2048


def length_chunks(batch: TokenBatch, model: Seq2Seq
                  ) -> tuple[torch.Tensor | None, tuple[tuple[int, int], ...], int]:
    """``(order, chunks, width)``: the programs of ``batch`` sorted by source length
    (``order``; None for a single chunk), ``Memory.chunks`` of ``CHUNK_PROGRAMS`` programs each
    over the sorted rows, and the width to encode (host reads, before any loop; ValueError as
    ``source_width``). Cross-attention then reads each chunk's longest program rather than the
    batch's: generated programs' lengths spread around half their maximum."""
    width = source_width(batch, model)
    if len(batch) < 2 * CHUNK_PROGRAMS:
        return None, (), width
    order = batch.lengths.argsort(stable=True)
    ordered = batch.lengths[order].cpu()
    ends = list(range(CHUNK_PROGRAMS, len(batch), CHUNK_PROGRAMS)) + [len(batch)]
    return order, tuple((end, max(1, int(ordered[end - 1]))) for end in ends), width


def span_at(step: int, max_len: int) -> int:
    """The cache positions self-attention reads at decode step ``step`` (0-based): the
    multiple of ``SPAN_STEP`` above ``step``, at most ``max_len``."""
    return min(max_len, (step // SPAN_STEP + 1) * SPAN_STEP)


def gumbel(seed: int, lane: torch.Tensor, step: torch.Tensor, vocab: torch.Tensor
           ) -> torch.Tensor:
    """Gumbel noise, one float32 per (lane, token), from the counter-based hash: the same on
    every device, and no generator state to capture. Computed in float64, where the uniform
    draw stays below 1 (in float32 it can round to 1, and the noise to infinity)."""
    bits = hashing.hash32(seed & hashing.MASK32, (seed >> 32) & hashing.MASK32, lane[:, None], step,
                        vocab[None])
    uniform = (bits.to(torch.float64) + 0.5) * 2.0 ** -32
    return (-torch.log(-torch.log(uniform))).to(torch.float32)


def choose(logits: torch.Tensor, mask: torch.Tensor, temperature: float, top_p: float,
           noise: torch.Tensor | None, greedy: torch.Tensor | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The token each lane takes and its log-probability under the masked distribution.

    ``temperature`` 0 is greedy; otherwise tokens are drawn (Gumbel-max with ``noise``, from
    ``gumbel``) from the masked softmax at that temperature, restricted to the smallest set of
    most likely tokens whose probability reaches ``top_p``. Lanes in ``greedy`` (bool ``[B]``)
    take the most likely token whatever the temperature.
    """
    masked = logits.float().masked_fill(~mask, float("-inf"))
    logp = torch.log_softmax(masked, -1)
    if temperature == 0:
        token = masked.argmax(-1)
    else:
        scaled = torch.log_softmax(masked / temperature, -1)
        if top_p < 1.0:
            ordered, order = scaled.sort(-1, descending=True)
            before = ordered.exp().cumsum(-1) - ordered.exp()
            scaled = scaled.scatter(-1, order, ordered.masked_fill(before >= top_p,
                                                                   float("-inf")))
        token = (scaled + noise).argmax(-1)
        if greedy is not None:
            token = torch.where(greedy, masked.argmax(-1), token)
    return token, logp.gather(1, token[:, None])[:, 0]


@torch.no_grad()
def sample(model: Seq2Seq, batch: TokenBatch, samples: int = 1, *, temperature: float = 0.0,
           top_p: float = 1.0, max_len: int | None = None, seed: int = 0,
           greedy_first: bool = False, cuda_graph: bool | None = None,
           width: int | None = None, sync_check: bool = False) -> Candidates:
    """Sample ``samples`` candidates for every program of ``batch`` (on the model's device).

    ``temperature`` 0 is greedy (then every sample of a program is the same); ``max_len``
    (default and at most the model's ``max_target_len``) bounds the tokens per candidate,
    ``eos`` included; ``seed`` keys the random draws; ``greedy_first`` makes the first sample of
    each program the greedy one. ``cuda_graph`` (default: on CUDA) captures the decode step
    (one graph per ``span_at``) and replays it. ``width`` is the source width to encode (default:
    ``length_chunks``'s, whose host reads also sort the programs by length for the decode
    step's cross-attention; the candidates come back in the batch's order, equal up to float
    rounding); ``sync_check`` (CUDA, without the graph) makes any host synchronisation inside
    the decode loop raise (torch's sync debug mode).
    """
    device = model.logits.weight.device
    max_len = model.config.max_target_len if max_len is None else max_len
    if not 1 <= max_len <= model.config.max_target_len:
        raise ValueError(f"max_len must be in 1..{model.config.max_target_len}, got {max_len}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive int, got {samples!r}")
    if temperature < 0 or not 0 < top_p <= 1:
        raise ValueError(f"temperature must be >= 0 and top_p in (0, 1], got {temperature}, "
                         f"{top_p}")
    batch = batch.to(device)
    order, chunks = None, ()
    if width is None:
        order, chunks, width = length_chunks(batch, model)
    if order is not None:
        batch = TokenBatch(*(getattr(batch, f.name)[order] for f in fields(batch)))
    memory = model.encode(batch.tokens[:, :width], batch.lits)._replace(chunks=chunks)
    lanes = len(batch) * samples
    rows = torch.arange(len(batch), device=device).repeat_interleave(samples)
    lits, nlits = batch.lits[rows], batch.nlits[rows]
    params, tables = EnvParams(max_len=max_len), token_tables(device)
    zeros = torch.zeros(lanes, dtype=torch.int64, device=device)
    state = LaneState(zeros, zeros, zeros, zeros,
                      torch.zeros((lanes, max_len), dtype=torch.int32, device=device),
                      zeros.clone(), zeros.clone(), zeros.clone(),
                      torch.full((lanes, MAX_NEST), -1, dtype=torch.int64, device=device),
                      torch.zeros((lanes, TARGET_VOCAB_SIZE), dtype=torch.bool, device=device))
    state.mask.copy_(lane_mask(state, nlits, params, tables))
    cache = model.new_cache(lanes, device, length=max_len)
    only_eos = torch.arange(TARGET_VOCAB_SIZE, device=device) == EOS
    lane_ids = torch.arange(lanes, device=device)  # each lane's place in the batch's order
    if order is not None:
        lane_ids = (order[:, None] * samples + torch.arange(samples, device=device)).view(-1)
    greedy = (lane_ids % samples == 0) if greedy_first else None
    vocab_ids = torch.arange(TARGET_VOCAB_SIZE, device=device)
    previous = torch.zeros(lanes, dtype=torch.int64, device=device)
    reset = torch.ones(lanes, dtype=torch.bool, device=device)
    done = torch.zeros(lanes, dtype=torch.bool, device=device)
    length = torch.zeros(lanes, dtype=torch.int32, device=device)
    logprob = torch.zeros(lanes, dtype=torch.float32, device=device)
    step_count = torch.zeros((), dtype=torch.int64, device=device)

    def step(span: int) -> None:
        logits, _ = model.step(memory, cache, previous, reset, span=span)
        noise = None if temperature == 0 else gumbel(seed, lane_ids, step_count, vocab_ids)
        token, logp = choose(logits, state.mask, temperature, top_p, noise, greedy)
        token = torch.where(done, EOS, token)
        logprob.add_(torch.where(done, 0.0, logp))
        stepped, _, eos = transition(state, token, tables, params)
        length.add_((~done & ~eos).to(torch.int32))
        done.logical_or_(eos)
        mask = torch.where(done[:, None], only_eos, lane_mask(stepped, nlits, params, tables))
        for old, new in zip(state, stepped._replace(mask=mask)):
            if new is not old:
                old.copy_(new)
        previous.copy_(token)
        reset.zero_()
        step_count.add_(1)

    spans = [span_at(t, max_len) for t in range(max_len)]
    use_graph = device.type == "cuda" if cuda_graph is None else cuda_graph
    if use_graph:
        _replay_in_graphs(step, spans)
    else:
        with gpu_launch.host_sync_forbidden(torch) if sync_check else contextlib.nullcontext():
            for span in spans:
                step(span)
    candidates = Candidates(state.target, decode(state.target, lits, tables).to(torch.int32),
                            length, logprob)
    if order is None:
        return candidates
    return Candidates(*(torch.empty_like(x).index_copy_(0, lane_ids, x) for x in candidates))


def _replay_in_graphs(step, spans: list[int]) -> None:
    """Run ``step(span)`` for each of ``spans`` in turn: the first step of each span eagerly on
    a side stream (warm-up, as CUDA graph capture requires), the others as replays of one graph
    captured per span. ``step`` must only update tensors in place. The graphs share one memory
    pool: each is replayed only before the next is captured, as sharing requires."""
    graphs: dict[int, torch.cuda.CUDAGraph | None] = {}
    side, pool = torch.cuda.Stream(), torch.cuda.graph_pool_handle()
    for span in spans:
        if span not in graphs:
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                step(span)
            torch.cuda.current_stream().wait_stream(side)
            graphs[span] = None
            continue
        if graphs[span] is None:
            graphs[span] = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graphs[span], pool=pool):
                step(span)
        graphs[span].replay()
