"""The neural compiler's model and sampler: incremental == full decoding, every sample valid.

References: full-sequence decoding under a causal mask for the KV cache and the per-lane
positions; ``validate.validate`` (the validator itself) for every sampled program.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kiln.agents.config import ModelConfig
from kiln.agents.model import BOS, Seq2Seq
from kiln.agents import sampling
from kiln.agents.sampling import SPAN_STEP, sample, span_at
from kiln.compilers import vocab
from kiln.compilers.programs.generator import generate_batch
from kiln.compilers.tokens import TokenBatch
from kiln.compilers.validate import validate
from kiln.compilers.isa import MAX_NEST
from kiln.envs import lanes
from kiln.envs.compile_env import EnvParams
from kiln.envs.programs import DEFAULT_GENERATOR

TABLES = lanes.token_tables(torch.device("cpu"))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(seed: int) -> Seq2Seq:
    torch.manual_seed(seed)
    return Seq2Seq(ModelConfig.preset("tiny")).eval()


def programs(n: int, seed: int) -> TokenBatch:
    return generate_batch(n, seed, DEFAULT_GENERATOR)


def test_presets_and_config_errors():
    assert ModelConfig.preset("tiny").d_model < ModelConfig.preset("small").d_model
    with pytest.raises(ValueError, match="unknown model size 'huge'"):
        ModelConfig.preset("huge")
    with pytest.raises(ValueError, match="multiple of heads"):
        ModelConfig(d_model=30, heads=4)
    with pytest.raises(ValueError, match="unknown fields \\['x'\\]"):
        ModelConfig.from_dict({**ModelConfig().to_dict(), "x": 1})


@pytest.mark.parametrize("seed", [0, 1])
def test_step_matches_full_decoding_with_resets(seed):
    """Lanes at different positions, reset at different times, each pointing at its own memory
    row: every step's logits and values equal the full decode of the lane's current sequence."""
    model = tiny(seed)
    gen = torch.Generator().manual_seed(seed)
    batch = programs(3, seed)
    memory = model.encode(batch.tokens, batch.lits)
    lanes, steps = 5, 14
    rows = torch.randint(0, 3, (lanes,), generator=gen)
    tokens = torch.randint(0, vocab.TARGET_VOCAB_SIZE, (lanes, steps), generator=gen)
    resets = torch.rand((lanes, steps), generator=gen) < 0.2
    resets[:, 0] = True
    cache = model.new_cache(lanes)
    with torch.no_grad():
        for t in range(steps):
            logits, value = model.step(memory, cache, tokens[:, t - 1] if t else tokens[:, 0],
                                       resets[:, t], rows)
            for lane in range(lanes):
                start = int(resets[lane, :t + 1].nonzero()[-1])
                seq = torch.cat([torch.tensor([BOS]), tokens[lane, start:t]])[None]
                ref_logits, ref_value = model.decode(memory, seq, rows[lane:lane + 1])
                torch.testing.assert_close(logits[lane], ref_logits[0, -1], atol=1e-5,
                                           rtol=1e-5, msg=f"seed {seed} lane {lane} step {t}")
                torch.testing.assert_close(value[lane], ref_value[0, -1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_lockstep_steps_over_a_span_of_the_cache_equal_steps_over_all_of_it(seed):
    """``sample``'s lanes advance together, so self-attention reads only ``span_at``'s first
    positions of the cache: the same logits as reading all of it under the position mask."""
    model = tiny(seed)
    batch = programs(3, seed)
    memory = model.encode(batch.tokens, batch.lits)
    lanes, length = 6, 20
    tokens = torch.randint(0, vocab.TARGET_VOCAB_SIZE, (lanes, length),
                           generator=torch.Generator().manual_seed(seed))
    whole, spanned = model.new_cache(lanes, length=length), model.new_cache(lanes, length=length)
    reset = torch.ones(lanes, dtype=torch.bool)
    with torch.no_grad():
        for t in range(length):
            previous = tokens[:, t - 1] if t else tokens[:, 0]
            want, want_value = model.step(memory, whole, previous, reset)
            got, value = model.step(memory, spanned, previous, reset, span=span_at(t, length))
            torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6,
                                       msg=f"seed {seed} step {t}")
            torch.testing.assert_close(value, want_value, atol=1e-6, rtol=1e-6)
            reset = torch.zeros(lanes, dtype=torch.bool)
    for a, b in zip(whole.keys + whole.values + (whole.position,),
                    spanned.keys + spanned.values + (spanned.position,)):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6, msg=f"seed {seed}: caches")


def test_span_at_covers_every_filled_position_in_steps_of_span_step():
    assert [span_at(t, 64) for t in (0, SPAN_STEP - 1, SPAN_STEP, 63)] == \
        [SPAN_STEP, SPAN_STEP, 2 * SPAN_STEP, 64]
    for max_len in (1, 5, 62, 128):
        spans = [span_at(t, max_len) for t in range(max_len)]
        assert all(t < s <= max_len for t, s in enumerate(spans)), max_len
        assert spans == sorted(spans) and len(set(spans)) == -(-max_len // SPAN_STEP)


@pytest.mark.parametrize("samples, temperature, top_p", [(1, 0.0, 1.0), (3, 1.0, 1.0),
                                                     (2, 0.8, 0.9)])
def test_sorting_by_length_into_chunks_samples_what_one_chunk_samples(monkeypatch, samples,
                                                                       temperature, top_p):
    """``sample`` sorts programs by length and reads each chunk's memory over its own width:
    the same candidates, in the batch's order, as one chunk over the batch's width."""
    model = tiny(4)
    batch = programs(23, 4)
    whole = sample(model, batch, samples, temperature=temperature, top_p=top_p, max_len=40,
                   seed=2, greedy_first=True)
    monkeypatch.setattr(sampling, "CHUNK_PROGRAMS", 4)
    order, chunks, width = sampling.length_chunks(batch, model)
    assert [end for end, _ in chunks] == [4, 8, 12, 16, 20, 23]
    assert chunks[-1][1] == width and chunks[0][1] < width, chunks
    assert torch.equal(batch.lengths[order], batch.lengths.sort().values)
    chunked = sample(model, batch, samples, temperature=temperature, top_p=top_p, max_len=40,
                     seed=2, greedy_first=True)
    for name in ("tokens", "code", "lengths"):
        assert torch.equal(getattr(chunked, name), getattr(whole, name)), name
    torch.testing.assert_close(chunked.logprob, whole.logprob, atol=1e-4, rtol=1e-5)


def test_grouped_memory_equals_gathered_rows():
    model = tiny(3)
    batch = programs(4, 3)
    memory = model.encode(batch.tokens, batch.lits)
    target_in = torch.randint(0, vocab.TARGET_VOCAB_SIZE + 1, (12, 9))
    with torch.no_grad():
        grouped = model.decode(memory, target_in)
        gathered = model.decode(memory, target_in, torch.arange(4).repeat_interleave(3))
    torch.testing.assert_close(grouped, gathered)


def replay(model: Seq2Seq, batch: TokenBatch, candidates, samples: int, max_len: int):
    """Per lane: (log-prob, greedy tokens) from full-sequence decoding, masked by the env's
    rule replayed on the lane alone (a batch of one, as the single env steps)."""
    memory = model.encode(batch.tokens, batch.lits)
    out = []
    for lane in range(candidates.tokens.shape[0]):
        row = lane // samples
        n = int(candidates.lengths[lane])
        seq = candidates.tokens[lane, :n + 1].long()
        assert int(seq[-1]) == vocab.EOS and (seq[:-1] != vocab.EOS).all()
        with torch.no_grad():
            logits, _ = model.decode(memory, torch.cat([torch.tensor([BOS]), seq[:-1]])[None],
                                     torch.tensor([row]))
        state = lanes.LaneState(*(torch.zeros(1, dtype=torch.int64),) * 4,
                                torch.zeros((1, max_len), dtype=torch.int32),
                                *(torch.zeros(1, dtype=torch.int64),) * 3,
                                torch.full((1, MAX_NEST), -1, dtype=torch.int64),
                                torch.zeros((1, vocab.TARGET_VOCAB_SIZE), dtype=torch.bool))
        params, nlits = EnvParams(max_len=max_len), batch.nlits[row:row + 1]
        logprob, argmax = 0.0, []
        for t, token in enumerate(seq.tolist()):
            mask = lanes.lane_mask(state, nlits, params, TABLES)[0]
            masked = logits[0, t].masked_fill(~mask, float("-inf"))
            logprob += float(torch.log_softmax(masked, -1)[token])
            argmax.append(int(masked.argmax()))
            state, valid, _ = lanes.transition(state._replace(mask=mask[None]),
                                               torch.tensor([token]), TABLES, params)
            assert bool(valid[0]), f"lane {lane}: token {token} at {t} is not allowed"
        out.append((logprob, argmax, seq.tolist()))
    return out


@pytest.mark.parametrize("temperature, top_p", [(0.0, 1.0), (1.0, 1.0), (0.8, 0.9)])
def test_sampled_tokens_and_logprobs_match_full_decoding(temperature, top_p):
    model = tiny(5)
    batch = programs(6, 5)
    samples, max_len = 3, 40
    c = sample(model, batch, samples, temperature=temperature, top_p=top_p, max_len=max_len,
               seed=11)
    for lane, (logprob, argmax, seq) in enumerate(replay(model, batch, c, samples, max_len)):
        assert abs(logprob - float(c.logprob[lane])) < 1e-3, (lane, logprob, c.logprob[lane])
        if temperature == 0:
            assert argmax == seq, f"lane {lane}: greedy tokens differ from full decoding"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_sample_of_an_untrained_model_is_a_valid_program(seed):
    model = tiny(seed)
    batch = programs(32, 100 + seed)
    max_len = 48 + 16 * seed
    c = sample(model, batch, 40, temperature=1.5, max_len=max_len, seed=seed)
    assert c.tokens.shape == (32 * 40, max_len)
    lits = batch.lits.repeat_interleave(40, 0)
    for lane in range(c.tokens.shape[0]):
        n = int(c.lengths[lane])
        assert n < max_len and int(c.tokens[lane, n]) == vocab.EOS, f"seed {seed} lane {lane}"
        code = c.code[lane, :n].numpy()
        validate(code)  # raises ValidationError naming the problem
        expected = vocab.decode(c.tokens[lane].numpy(), lits[lane].numpy())
        np.testing.assert_array_equal(code, expected, err_msg=f"seed {seed} lane {lane}")


def test_same_seed_same_samples_and_greedy_samples_agree():
    model = tiny(7)
    batch = programs(4, 7)
    a = sample(model, batch, 5, temperature=1.0, max_len=32, seed=3)
    b = sample(model, batch, 5, temperature=1.0, max_len=32, seed=3)
    d = sample(model, batch, 5, temperature=1.0, max_len=32, seed=4)
    assert torch.equal(a.tokens, b.tokens)
    assert not torch.equal(a.tokens, d.tokens)
    g = sample(model, batch, 3, max_len=32).tokens.view(4, 3, 32)
    assert (g == g[:, :1]).all()


def test_sample_rejects_bad_arguments():
    model = tiny(0)
    batch = programs(2, 0)
    with pytest.raises(ValueError, match="max_len must be in 1..128"):
        sample(model, batch, max_len=129)
    with pytest.raises(ValueError, match="samples must be a positive int"):
        sample(model, batch, samples=0)
    with pytest.raises(ValueError, match="top_p"):
        sample(model, batch, top_p=0.0)
    long = TokenBatch.from_sources(["def f(x):\n" + "    x = x + 1\n" * 60 + "    return x\n"])
    with pytest.raises(ValueError, match="program 0 has .* source tokens; the model reads"):
        sample(model, long)


def test_naive_baseline_samples_what_the_sampler_samples():
    """The benchmark's baseline (eager, torch.cat KV cache) decodes the same greedy programs."""
    from kiln.bench.neural import naive_sample

    model = tiny(9)
    batch = programs(8, 9)
    naive, fast = naive_sample(model, batch, 40), sample(model, batch, max_len=40)
    assert torch.equal(naive.tokens, fast.tokens) and torch.equal(naive.lengths, fast.lengths)
    torch.testing.assert_close(naive.logprob, fast.logprob, atol=1e-4, rtol=1e-4)
