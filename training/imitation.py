"""Imitation: teach the neural compiler the traditional compiler's code.

Every step draws a fresh batch of programs from the generator on the training device (the CUDA
generator on a GPU, numba on a CPU), compiles them with the batched compiler and spells the code
in the target vocabulary (``agents.targets.oracle_targets``), so the data is unlimited and never
leaves the device. The model learns it by teacher forcing (cross-entropy on every target token),
with AdamW, linear warm-up and cosine decay, bf16 autocast on CUDA.

It is judged by function, not by likeness: ``evaluate`` samples the model's code for held-out
programs and runs it on the VM against the oracle's on each program's tests
(``compilers.neural.judge``). ``pass_rate`` (all tests agree) is the figure; ``exact_match``
(token for token the oracle's code) is reported beside it. Held-out sets: ``HELD_OUT_SEED``'s
generated programs (never a training seed) and the public suite.

A run directory gets TensorBoard logs (``losses/imitation``, ``compiler/pass_rate``,
``compiler/exact_match``, ``charts/tokens_per_s``) and the latest checkpoint (``model.json`` +
``model.safetensors``), rewritten atomically every ``checkpoint_every_s`` seconds.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..agents.checkpoint import load_checkpoint, save_checkpoint
from ..agents.config import ModelConfig
from ..agents.model import BOS, Seq2Seq
from ..agents.targets import oracle_targets
from ..compilers.programs.generator import GenConfig, generate_batch
from ..compilers.tokens import NUM_BUILTINS, TokenBatch
from ..envs.programs import DEFAULT_GENERATOR

# Generator streams: training step s of seed k draws stream TRAIN_SEED + k * SEED_STRIDE + s;
# the held-out set is HELD_OUT_SEED's programs 0..n-1, a stream no training step reaches
# (seeds from 7_000_000 up are reserved for evaluation).
TRAIN_SEED = 1_000_000
SEED_STRIDE = 100_000
HELD_OUT_SEED = 7_000_008
HELD_OUT_PROGRAMS = 10_000

# Training programs, in turn: the env's small functions; longer ones with deeper nesting and
# bigger expressions (closer to hand-written code such as the suite); and longer ones that also
# use every builtin, ``int`` and ``bool`` included (the env's generator leaves those two out).
ALL_BUILTINS = (1 << NUM_BUILTINS) - 1
TRAIN_GENERATORS = (DEFAULT_GENERATOR,
                    GenConfig(max_stmts=12, max_depth=3, expr_nodes=6, max_tokens=256),
                    GenConfig(max_stmts=12, max_depth=3, expr_nodes=6, max_tokens=256,
                              builtins=ALL_BUILTINS))


@dataclass
class ImitationConfig:
    """Settings of an imitation run (each field is a ``kiln train imitation`` option)."""

    size: str = "small"
    """Model size: tiny, small or base (agents.config.PRESETS)."""
    steps: int = 4000
    """Optimiser steps."""
    batch_size: int = 256
    """Programs per step."""
    lr: float = 1e-3
    """Peak learning rate of AdamW."""
    warmup: int = 200
    """Steps of linear warm-up before the cosine decay to zero."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    seed: int = 0
    """Seed of the initial weights and of the training programs (0..59)."""
    device: str = "auto"
    """cpu, cuda, or auto (cuda when present)."""
    eval_every: int = 500
    """Steps between evaluations (greedy, on eval_programs held-out programs); 0: only at the
    end."""
    eval_programs: int = 512
    """Held-out generated programs per evaluation."""
    time_limit_s: float = 0.0
    """Stop training after this many seconds (0: run every step)."""
    checkpoint_every_s: float = 60.0
    """Seconds between checkpoints written to the run directory."""
    run_dir: str = "runs/imitation"
    """Where TensorBoard logs and the checkpoint go."""
    resume: str = ""
    """A checkpoint to start from (its weights and step; the optimiser starts afresh)."""

    def __post_init__(self):
        ModelConfig.preset(self.size)
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"ImitationConfig.{name} must be positive, got "
                                 f"{getattr(self, name)}")
        if not 0 <= self.seed < 60:
            raise ValueError(f"ImitationConfig.seed must be in 0..59, got {self.seed}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"ImitationConfig.device must be auto, cpu or cuda, got "
                             f"{self.device!r}")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but torch sees no CUDA device")
    return torch.device(name)


def held_out(n: int = HELD_OUT_PROGRAMS, device: torch.device | str = "cpu") -> TokenBatch:
    """The held-out generated programs (the env's generator, stream ``HELD_OUT_SEED``)."""
    return generate_batch(n, HELD_OUT_SEED, DEFAULT_GENERATOR, device)


def suite_batch(device: torch.device | str = "cpu") -> TokenBatch:
    """The public suite, in token form."""
    from ..compilers.programs.suite import load_suite

    return TokenBatch.from_sources([p.source for p in load_suite()], device)


def teacher_forcing_loss(model: Seq2Seq, batch: TokenBatch, target: torch.Tensor,
                         ok: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of the target tokens (through each row's ``eos``) over the rows in
    ``ok`` whose source the model reads, and the number of tokens it covers."""
    counted = (target == 0).long().cumsum(1) - (target == 0).long() == 0
    counted &= ok[:, None] & (batch.lengths <= model.config.max_source_len)[:, None]
    # Both sides trimmed to what the batch uses: one host read, and far less padding computed.
    source_width = min(int(batch.lengths.max()), model.config.max_source_len)
    target_width = int(counted.sum(1).max()) + 1
    target, counted = target[:, :target_width], counted[:, :target_width]
    memory = model.encode(batch.tokens[:, :source_width], batch.lits)
    target_in = torch.cat([torch.full_like(target[:, :1], BOS), target[:, :-1]], 1)
    logits, _ = model.decode(memory, target_in)
    loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), target.flatten(),
                                             reduction="none")
    tokens = counted.sum()
    return (loss * counted.flatten()).sum() / tokens.clamp(min=1), tokens


@torch.no_grad()
def evaluate(model: Seq2Seq, batch: TokenBatch, samples: int = 1, *, chunk: int = 4096,
             seed: int = 0) -> dict[str, float]:
    """Functional correctness of the model on ``batch``: ``pass_rate`` (a program counts when
    one of its ``samples`` candidates (greedy first) agrees with the oracle on all its tests),
    ``exact_match`` (the greedy candidate is the imitation target token for token),
    ``spellable`` (the programs whose target the vocabulary can spell) and ``programs``."""
    from ..compilers.neural import compile_tokens

    was_training = model.training
    model.eval()
    device = model.logits.weight.device
    passed = exact = spellable = 0
    for start in range(0, len(batch), chunk):
        part = TokenBatch(*(getattr(batch, f)[start:start + chunk] for f in
                            ("tokens", "lengths", "lits", "nlits", "nparams", "nnames")))
        part = part.to(device)
        candidates, verdict = compile_tokens(model, part, samples, seed=seed + start)
        target, ok = oracle_targets(part, model.config.max_target_len)
        greedy = candidates.tokens[::samples].long()
        exact += int(((greedy == target).all(1) & ok).sum())
        spellable += int(ok.sum())
        passed += int(verdict.found.sum())
    model.train(was_training)
    n = max(1, len(batch))
    return {"pass_rate": passed / n, "exact_match": exact / n, "spellable": spellable / n,
            "programs": len(batch)}


def learning_rate(step: int, config: ImitationConfig, elapsed_s: float = 0.0,
                  first_step: int = 0) -> float:
    """Linear warm-up to ``lr``, then cosine decay to 0 at ``steps`` or, with a time limit, at
    the limit if that comes first (so a run cut by time still ends annealed). ``first_step`` is
    where this run began: a run resumed from a checkpoint starts a fresh optimiser, so it warms
    up again (a fresh AdamW's first steps at the full rate move every weight by ``lr`` and
    wreck a trained model)."""
    step -= first_step
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - first_step - config.warmup)
    if config.time_limit_s:
        progress = max(progress, elapsed_s / config.time_limit_s)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train(config: ImitationConfig, *, progress: bool = True,
          on_checkpoint: Callable[[Path, int], None] | None = None,
          generators: tuple[GenConfig, ...] = TRAIN_GENERATORS,
          eval_batch: TokenBatch | None = None) -> tuple[Seq2Seq, dict]:
    """Run imitation as ``config`` says; returns the model and a summary (steps, seconds,
    last loss, the final evaluation on ``eval_batch``, by default ``eval_programs`` held-out
    programs). ``generators`` are the generator settings training batches cycle through;
    ``on_checkpoint(path, step)`` is called after each checkpoint is written."""
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    step = 0
    if config.resume:
        model, meta = load_checkpoint(config.resume, device)
        step = int(meta["step"])
    else:
        model = Seq2Seq(ModelConfig.preset(config.size)).to(device)
    first_step = step  # the step this run (and its fresh optimiser) began at
    model.train()
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    writer = SummaryWriter(str(run_dir))
    writer.add_text("hyperparameters", "|field|value|\n|-|-|\n" + "\n".join(
        f"|{k}|{v}|" for k, v in {**asdict(config), **model.config.to_dict()}.items()))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay, betas=(0.9, 0.98))
    eval_batch = (held_out(config.eval_programs, device) if eval_batch is None
                  else eval_batch.to(device))
    autocast = torch.autocast("cuda", torch.bfloat16, enabled=device.type == "cuda")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32

    def checkpoint(summary: dict[str, Any]) -> None:
        path = save_checkpoint(run_dir / "model", model, step=step, dtype=dtype,
                               training={"config": asdict(config), **summary})
        if on_checkpoint is not None:
            on_checkpoint(path, step)

    start = last_checkpoint = last_log = time.perf_counter()
    tokens_since, loss_value = torch.zeros((), device=device), None
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="imitation")
    while step < config.steps:
        if config.time_limit_s and time.perf_counter() - start > config.time_limit_s:
            break
        generator = generators[step % len(generators)]
        batch = generate_batch(config.batch_size, TRAIN_SEED + config.seed * SEED_STRIDE + step,
                               generator, device)
        target, ok = oracle_targets(batch, model.config.max_target_len)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config, time.perf_counter() - start,
                                           first_step)
        with autocast:
            loss, tokens = teacher_forcing_loss(model, batch, target, ok)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        tokens_since += tokens
        step += 1
        bar.update(1)
        if step % 50 == 0 or step == config.steps:  # host reads for logging only
            now = time.perf_counter()
            loss_value = float(loss.detach())
            writer.add_scalar("losses/imitation", loss_value, step)
            writer.add_scalar("charts/tokens_per_s", float(tokens_since) / (now - last_log), step)
            writer.add_scalar("charts/learning_rate", optimizer.param_groups[0]["lr"], step)
            tokens_since.zero_()
            last_log = now
            bar.set_postfix(loss=f"{loss_value:.4f}")
        if config.eval_every and step % config.eval_every == 0 and step < config.steps:
            summary = _log_eval(model, eval_batch, writer, step)
        if time.perf_counter() - last_checkpoint > config.checkpoint_every_s:
            checkpoint({"loss": loss_value})
            last_checkpoint = time.perf_counter()
    bar.close()
    seconds = time.perf_counter() - start
    summary = {"steps": step, "train_seconds": seconds, "loss": loss_value,
               "held_out": _log_eval(model, eval_batch, writer, step)}
    checkpoint(summary)
    writer.close()
    return model, summary


def _log_eval(model: Seq2Seq, batch: TokenBatch, writer, step: int) -> dict[str, float]:
    figures = evaluate(model, batch)
    writer.add_scalar("compiler/pass_rate", figures["pass_rate"], step)
    writer.add_scalar("compiler/exact_match", figures["exact_match"], step)
    return figures
