"""``kiln train``: a PPO run from start (or resume) to its last checkpoint.

``train`` opens or creates the run directory, builds the trainer of ``config.algo`` (native or
SB3), and then drives it, update by update, until ``total_timesteps`` or ``time_limit_s``:
TensorBoard scalars every ``log_every`` updates, an evaluation on the held-out sets
(``compiler/`` tags) at the start, every ``eval_every`` updates and at the end, checkpoints
every ``checkpoint_every`` updates and at the end, and a progress bar. Rank 0 does all the
writing; with several processes the others only train.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ..agents.checkpoint import load_checkpoint, save_checkpoint
from ..agents.config import ModelConfig
from ..agents.model import Seq2Seq
from ..compilers.neural import DEFAULT_CHECKPOINT
from . import checkpoint, distributed
from .checkpoint import CheckpointError
from .config import TrainConfig
from .evaluate import SETS, evaluate, held_out, tags
from .rundir import EVALUATIONS, RunDir, default_path
from .tblog import RunLogger

# The run directory's latest policy as a model checkpoint (``kiln eval``, ``kiln compile``).
POLICY = "policy"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise CheckpointError("--device cuda asked for, but torch sees no CUDA device")
    try:
        return torch.device(name)
    except RuntimeError:
        raise CheckpointError(f"unknown device {name!r}; use cpu, cuda or auto") from None


def model_from_tensors(tensors: dict[str, torch.Tensor], meta: dict[str, Any], prefix: str,
                       where: Path) -> Seq2Seq:
    """The model stored under ``prefix`` in a PPO checkpoint."""
    try:
        model = Seq2Seq(ModelConfig.from_dict(meta["model_config"]))
        model.load_state_dict({k[len(prefix):]: v for k, v in tensors.items()
                               if k.startswith(prefix)})
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{where} does not hold a kiln model: "
                              f"{str(exc).splitlines()[0]}") from None
    return model


def starting_model(config: TrainConfig) -> Seq2Seq:
    """The policy a fresh run starts from (``config.checkpoint``)."""
    if config.checkpoint == "none":
        torch.manual_seed(config.seed)
        return Seq2Seq(ModelConfig.preset(config.model))
    return load_model(config.checkpoint)


def load_model(spec: str) -> Seq2Seq:
    """A model from ``spec``: ``shipped`` (the package's imitation checkpoint), a run directory
    (its latest policy), a PPO training checkpoint or a model checkpoint
    (``kiln.agents.checkpoint``), each named by its stem or either of its two files."""
    path = DEFAULT_CHECKPOINT if spec == "shipped" else Path(spec)
    if path.is_dir():
        path = path / POLICY
    stem = path.with_suffix("") if path.suffix in (".json", ".safetensors") else path
    if not stem.with_suffix(".json").is_file():
        raise CheckpointError(f"no checkpoint at {spec} (no {stem.with_suffix('.json')})")
    if checkpoint.read_json(stem.with_suffix(".json")).get("format") == checkpoint.FORMAT:
        tensors, meta = checkpoint.load(stem)
        return model_from_tensors(tensors, meta, "model.", stem)
    return load_checkpoint(stem)[0]


def check_model(model: Seq2Seq, config: TrainConfig) -> None:
    """The env's limits must fit the model's."""
    mc = model.config
    params = config.env_params()
    if params.max_len > mc.max_target_len or params.max_source_len > mc.max_source_len:
        raise CheckpointError(f"the model reads {mc.max_source_len} source tokens and writes "
                              f"{mc.max_target_len} target tokens; the env needs "
                              f"{params.max_source_len} and {params.max_len} (lower --max-len)")


def _trainer(config: TrainConfig, model: Seq2Seq, device: torch.device,
             ctx: distributed.Dist, reference: Seq2Seq | None):
    if config.algo == "native":
        from .ppo import PPO

        return PPO(config, model, device, ctx, reference)
    from .sb3_ppo import SB3Trainer

    return SB3Trainer(config, model, device, reference)


class _Progress:
    """The terminal's progress bar: steps, SPS, pass rate and cost ratio."""

    def __init__(self, config: TrainConfig, start: int, enabled: bool):
        total = config.num_updates * config.batch_size * config.nproc
        self.bar = tqdm(total=total, initial=start, unit="step", unit_scale=True,
                        disable=not enabled, dynamic_ncols=True, file=sys.stderr)
        self.step = start

    def update(self, step: int, logged: dict[str, float]) -> None:
        self.bar.update(step - self.step)
        self.step = step
        show = {"SPS": "charts/SPS", "pass": "compiler/pass_rate",
                "cost": "compiler/cost_ratio_oracle", "return": "charts/episodic_return"}
        postfix = {k: f"{logged[tag]:.3g}" for k, tag in show.items()
                   if tag in logged and not math.isnan(logged[tag])}
        if postfix:
            self.bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        self.bar.close()


def train(config: TrainConfig, *, resume: Path | None = None,
          changes: dict[str, Any] | None = None, progress: bool = True) -> RunDir:
    """Run (or resume) a training run; returns its run directory.

    With ``resume``, ``config`` is ignored: the run's own config is used, with ``changes``
    (flags given on the command line) checked against it.
    """
    if resume is not None:
        run = RunDir.open(resume, changes)
        config = run.config
        stem = run.latest()
        if stem is None:
            raise CheckpointError(f"{resume} has no checkpoint to resume from (start it afresh)")
        tensors, meta = checkpoint.load(stem)
        model = model_from_tensors(tensors, meta, "model.", stem)
        reference = model_from_tensors(tensors, meta, "reference.", stem)
    else:
        model, reference = starting_model(config), None
        check_model(model, config)
        run = None
    device = resolve_device(config.device)
    if device.type == "cpu":
        # The policy's ops are small (a token per lane per step): on a CPU, torch's worker
        # threads spin against numba's (the env's VM) and cost far more than they give.
        torch.set_num_threads(1)
    ctx = distributed.setup(device)
    device = distributed.device_for(device, ctx)
    try:
        trainer = _trainer(config, model, device, ctx, reference)
        if resume is not None:
            trainer.load_state(tensors, meta)
        if ctx.is_main and run is None:
            run = RunDir.create(Path(config.run_dir) if config.run_dir else default_path(config),
                                config)
        _drive(config, trainer, run, ctx, fresh=resume is None, progress=progress)
        distributed.finish(ctx)  # not on an error: the others would wait for it in vain
    finally:
        distributed.teardown(ctx)
    return run


def _drive(config: TrainConfig, trainer, run: RunDir | None, ctx: distributed.Dist,
           fresh: bool, progress: bool) -> None:
    params = config.env_params()
    logger = sets = None
    if ctx.is_main:
        # A checkpoint at step s follows the events logged at s: hide only those after it.
        logger = RunLogger(run.path, None if fresh else trainer.global_step + 1)
        sets = [held_out(name, config.eval_programs, params, trainer.device) for name in SETS]
        if fresh:
            logger.hyperparameters(config)
    bar = _Progress(config, trainer.global_step, progress and ctx.is_main)

    def evaluation(step: int) -> dict[str, float]:
        metrics = {h.name: evaluate(trainer.model, h, params) for h in sets}
        history = [e for e in run.evaluations() if e["global_step"] < step]
        run.write_json(EVALUATIONS, {"evaluations": history + [{"global_step": step,
                                                                **metrics}]})
        return tags(metrics)

    def save(step: int) -> None:
        tensors, meta = trainer.state()
        logger.flush()  # events up to this step are on disk before the checkpoint is
        run.save(step, tensors, dict(meta, model_config=trainer.model.config.to_dict(),
                                     config=config.to_dict()))
        save_checkpoint(run.path / POLICY, trainer.model, step=step,
                        training={"ppo": config.to_dict()})

    if ctx.is_main and fresh:  # the starting policy's figures: every curve starts at step 0
        scalars = evaluation(0)
        logger.scalars(scalars, 0)
        bar.update(0, scalars)

    def train() -> None:
        # SPS counts training only: the time spent evaluating and checkpointing is paused.
        start, start_step, paused = time.perf_counter(), trainer.global_step, 0.0
        while trainer.update < config.num_updates:
            trainer.train_update()
            update, step = trainer.update, trainer.global_step
            elapsed = time.perf_counter() - start
            last = update == config.num_updates or distributed.agree(
                bool(config.time_limit_s) and elapsed >= config.time_limit_s, ctx)
            logged = {}
            if update % config.log_every == 0 or last:
                logged = dict(trainer.read_stats(), **{"charts/SPS": (step - start_step)
                                                       / max(elapsed - paused, 1e-9)})
            if ctx.is_main:
                if config.eval_every and update % config.eval_every == 0 or last:
                    logged.update(evaluation(step))
                logger.scalars(logged, step)
                if update % config.checkpoint_every == 0 or last:
                    save(step)
                bar.update(step, logged)
            paused += time.perf_counter() - start - elapsed
            if last:
                return

    try:
        train()
    finally:
        bar.close()
        if logger is not None:
            logger.close()
