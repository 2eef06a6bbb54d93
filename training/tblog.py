"""TensorBoard logging of a run, with the tags CleanRL uses plus kiln's ``compiler/`` ones.

A resumed run opens its writer with ``purge_step`` one past the checkpoint's global step:
TensorBoard then hides every event the killed run wrote after the checkpoint, so each curve
continues without a gap and without a duplicate. The writer is flushed before every checkpoint,
so that the events up to a checkpoint are on disk whenever the checkpoint is.
"""
from __future__ import annotations

from pathlib import Path

from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from .config import TrainConfig
from .rundir import config_table

CHARTS = ("charts/episodic_return", "charts/episodic_length", "charts/learning_rate",
          "charts/SPS")
LOSSES = ("losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/old_approx_kl",
          "losses/approx_kl", "losses/clipfrac", "losses/explained_variance",
          "losses/kl_to_reference")
COMPILER = ("compiler/pass_rate", "compiler/cost_ratio_oracle", "compiler/cost_ratio_O2",
            "compiler/frac_cheaper_than_O2", "compiler/invalid_rate")
TAGS = CHARTS + LOSSES + COMPILER


class RunLogger:
    """The run's TensorBoard writer (rank 0 only; other ranks get ``None`` instead)."""

    def __init__(self, log_dir: Path, resume_step: int | None = None):
        self.writer = SummaryWriter(str(log_dir), purge_step=resume_step)

    def hyperparameters(self, config: TrainConfig) -> None:
        """The config once: a table in the text tab, and TensorBoard hparams whose metrics are
        the ``compiler/`` scalars."""
        self.writer.add_text("hyperparameters", config_table(config), 0)
        values = {k: v for k, v in config.to_dict().items()}
        for summary in hparams(values, {tag: 0.0 for tag in COMPILER}):
            self.writer.file_writer.add_summary(summary)

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Write every ``tag: value`` at ``step``."""
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
