"""Measurements of the neural compiler: correctness, sampling speed, the neural loop.

- ``correctness``: functional correctness (greedy, one sample) on the held-out generated
  programs and on the suite, and with K samples and test filtering on the suite.
- ``sampling_speed``: candidates per second of ``agents.sampling.sample`` (preallocated KV
  cache, CUDA graphs, programs sorted by length; also eager, and unsorted: one cross-attention
  chunk over the batch's width) beside ``naive_sample``, an eager loop that grows its KV cache
  with ``torch.cat`` and copies each program's memory per lane, on the same model and
  programs.
- ``neural_loop``: K candidates for N programs sampled and tested on T inputs each on the device,
  beside CPython's pipeline (``compile()`` + calls) per candidate.
- ``check_cuda_sampling``: the CUDA decode loop under torch's sync debug mode (any host
  synchronisation raises), and the CUDA graph's candidates equal to the eager loop's.

``python -m kiln.bench.neural OUT_DIR`` runs them all (and, with ``--train-s``, trains
the ``small`` model first), writing ``neural_bench.json`` after each part.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..agents.model import BOS, Seq2Seq, _split
from ..agents.sampling import Candidates, choose, sample, source_width
from ..compilers.isa import MAX_NEST
from ..compilers.tokens import TokenBatch
from ..compilers.vocab import EOS, TARGET_VOCAB_SIZE
from ..envs.compile_env import EnvParams
from ..envs.lanes import LaneState, lane_mask, token_tables, transition
from ..envs.vector_env import decode
from ..training.imitation import evaluate, held_out, suite_batch


@torch.no_grad()
def naive_sample(model: Seq2Seq, batch: TokenBatch, max_len: int) -> Candidates:
    """Greedy candidates, one per program, the plain way: an eager loop, a KV cache grown by
    ``torch.cat`` every step, the program's memory per lane. The baseline of ``sample``."""
    device = model.logits.weight.device
    width = source_width(batch, model)
    batch = batch.to(device)
    memory = model.encode(batch.tokens[:, :width], batch.lits)
    lanes = len(batch)
    params, tables = EnvParams(max_len=max_len), token_tables(device)
    zeros = torch.zeros(lanes, dtype=torch.int64, device=device)
    state = LaneState(zeros, zeros, zeros, zeros,
                      torch.zeros((lanes, max_len), dtype=torch.int32, device=device),
                      zeros, zeros, zeros,
                      torch.full((lanes, MAX_NEST), -1, dtype=torch.int64, device=device),
                      torch.zeros((lanes, TARGET_VOCAB_SIZE), dtype=torch.bool, device=device))
    state = state._replace(mask=lane_mask(state, batch.nlits, params, tables))
    keys: list[torch.Tensor | None] = [None] * len(model.decoder)
    values: list[torch.Tensor | None] = [None] * len(model.decoder)
    token = torch.full((lanes,), BOS, dtype=torch.int64, device=device)
    done = torch.zeros(lanes, dtype=torch.bool, device=device)
    length = torch.zeros(lanes, dtype=torch.int32, device=device)
    logprob = torch.zeros(lanes, dtype=torch.float32, device=device)
    for t in range(max_len):
        x = (model.target_embed(token) + model.target_position.weight[t])[:, None]
        for i, block in enumerate(model.decoder):
            q, k, v = (_split(p, block.heads) for p in block.qkv(block.norm1(x)).chunk(3, -1))
            keys[i] = k if keys[i] is None else torch.cat([keys[i], k], 2)
            values[i] = v if values[i] is None else torch.cat([values[i], v], 2)
            a = F.scaled_dot_product_attention(q, keys[i], values[i])
            x = block._rest(x, a, memory.keys[i], memory.values[i], memory.attend, None)
        logits = model.logits(model.decoder_norm(x[:, 0]))
        token, logp = choose(logits, state.mask, 0.0, 1.0, None)
        token = torch.where(done, EOS, token)
        logprob += torch.where(done, 0.0, logp)
        state, _, eos = transition(state, token, tables, params)
        length += (~done & ~eos).to(torch.int32)
        done = done | eos
        state = state._replace(mask=torch.where(
            done[:, None], torch.arange(TARGET_VOCAB_SIZE, device=device) == EOS,
            lane_mask(state, batch.nlits, params, tables)))
    return Candidates(state.target, decode(state.target, batch.lits, tables), length, logprob)


def _seconds(fn, repeats: int = 3) -> float:
    """Median wall time of ``fn()`` after one warm-up, synchronised on CUDA."""
    fn()
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def check_cuda_sampling(model: Seq2Seq, batch: TokenBatch) -> dict[str, Any]:
    """The eager decode loop under sync debug mode "error" (a synchronisation raises), and
    whether the CUDA graph's candidates equal the eager loop's (greedy and sampled)."""
    width = source_width(batch, model)
    batch = batch.to(model.logits.weight.device)
    out = {}
    for temperature in (0.0, 1.0):
        eager = sample(model, batch, 4, temperature=temperature, max_len=64, seed=5,
                       cuda_graph=False, width=width, sync_check=True)
        graph = sample(model, batch, 4, temperature=temperature, max_len=64, seed=5,
                       cuda_graph=True, width=width)
        out[f"graph_equals_eager_t{temperature:g}"] = bool(torch.equal(eager.tokens,
                                                                       graph.tokens))
    out["sync_free_decode_loop"] = True
    return out


def sampling_speed(model: Seq2Seq, programs: int = 16384, max_len: int = 64) -> dict[str, Any]:
    """Candidates/s of ``sample`` (greedy and temperature 1) and of ``naive_sample``. Every
    ``sample`` row but ``kiln_greedy_unsorted`` (``width`` given: one chunk) includes its host
    reads of the programs' lengths."""
    batch = held_out(programs, model.logits.weight.device)
    width = source_width(batch, model)
    rows: dict[str, Any] = {"programs": programs, "max_len": max_len}
    for name, fn in [
        ("kiln_greedy", lambda: sample(model, batch, 1, max_len=max_len)),
        ("kiln_t1", lambda: sample(model, batch, 1, temperature=1.0, max_len=max_len)),
        ("kiln_eager_no_graph", lambda: sample(model, batch, 1, max_len=max_len,
                                               cuda_graph=False)),
        ("kiln_greedy_unsorted", lambda: sample(model, batch, 1, max_len=max_len, width=width)),
        ("naive_eager_cat", lambda: naive_sample(model, batch, max_len)),
    ]:
        seconds = _seconds(fn)
        rows[name] = {"seconds": seconds, "candidates_per_s": programs / seconds}
    rows["speedup_over_naive"] = (rows["naive_eager_cat"]["seconds"]
                                  / rows["kiln_greedy"]["seconds"])
    return rows


def neural_loop(model: Seq2Seq, programs: int = 4096, samples: int = 64, tests: int = 64,
                max_len: int = 64) -> dict[str, Any]:
    """Sample ``samples`` candidates for each of ``programs`` programs and test all of them on
    ``tests`` inputs, on the device; beside it CPython's compile() + calls per candidate."""
    from ..compilers.neural import judge
    from .throughput import BenchConfig, bench_cpython

    batch = held_out(programs, model.logits.weight.device)
    width = source_width(batch, model)

    def loop(programs: TokenBatch):
        candidates = sample(model, programs, samples, temperature=1.0, max_len=max_len,
                            width=width, greedy_first=True)
        return judge(candidates, programs, samples, num_tests=tests)

    loop(TokenBatch(*(getattr(batch, f)[:64] for f in
                      ("tokens", "lengths", "lits", "nlits", "nparams", "nnames"))))  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    verdict = loop(batch)
    found = float(verdict.found.float().mean())  # waits for the GPU
    seconds = time.perf_counter() - start
    cpython = bench_cpython(BenchConfig(repeats=3))[0]["seconds_per_candidate"]
    return {"programs": programs, "samples": samples, "tests": tests, "max_len": max_len,
            "seconds": seconds, "programs_per_s": programs / seconds,
            "candidates_per_s": programs * samples / seconds,
            "found_fraction": found,
            "cpython_seconds_per_candidate": cpython,
            "cpython_candidates_per_s_one_core": 1 / cpython}


def correctness(model: Seq2Seq, held_out_programs: int = 10_000, samples: int = 16
                ) -> dict[str, Any]:
    """Functional correctness on the held-out generated programs and the suite."""
    device = model.logits.weight.device
    suite = suite_batch(device)
    return {"held_out_greedy": evaluate(model, held_out(held_out_programs, device)),
            "suite_greedy": evaluate(model, suite),
            f"suite_k{samples}": evaluate(model, suite, samples)}


def main(argv: list[str] | None = None) -> int:
    from ..agents.checkpoint import load_checkpoint
    from ..agents.config import ModelConfig
    from ..training.imitation import ImitationConfig, train
    from .throughput import metadata

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", help="folder for neural_bench.json (and the run, when training)")
    p.add_argument("--checkpoint", default="", help="measure this model (else train one)")
    p.add_argument("--train-s", type=float, default=0.0, help="seconds of imitation training")
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--quick", action="store_true", help="small sizes (a CPU smoke run)")
    p.add_argument("--parts", default="check,correctness,speed,loop",
                   help="comma-separated subset of check,correctness,speed,loop")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report: dict[str, Any] = {"meta": metadata(device)}

    def record(key: str, measure) -> None:
        try:
            report[key] = measure()
        except Exception as e:  # keep what the other parts measure
            report[key] = {"error": f"{type(e).__name__}: {e}"}
        (out / "neural_bench.json").write_text(json.dumps(report, indent=2) + "\n")
        print(key, json.dumps(report[key]), flush=True)

    parts = set(args.parts.split(","))
    if device == "cuda" and "check" in parts:
        torch.manual_seed(0)
        fresh = Seq2Seq(ModelConfig.preset("small")).to(device).to(torch.bfloat16).eval()
        record("cuda_sampling_check", lambda: check_cuda_sampling(fresh, held_out(256, device)))
    if args.checkpoint:
        model, meta = load_checkpoint(args.checkpoint, device)
        report["checkpoint"] = {"step": meta["step"], "training": meta["training"]}
    else:
        config = ImitationConfig(size="tiny" if args.quick else "small", steps=args.steps,
                                 batch_size=args.batch_size, lr=args.lr, device=device,
                                 time_limit_s=args.train_s, eval_every=1000,
                                 eval_programs=256 if args.quick else 1024,
                                 run_dir=str(out / "run"), checkpoint_every_s=60)
        model, summary = train(config, progress=False)
        record("training", lambda: summary)
    model.eval()
    if device == "cuda":
        model = model.to(torch.bfloat16)
    quick = args.quick
    if "correctness" in parts:
        record("correctness", lambda: correctness(model, 256 if quick else 10_000,
                                                  4 if quick else 16))
    if "speed" in parts:
        record("sampling_speed", lambda: sampling_speed(model, 64 if quick else 16384))
    if "loop" in parts:
        record("neural_loop", lambda: neural_loop(model, 16 if quick else 4096,
                                                  4 if quick else 64))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
