"""Native PPO on CUDA (skipped without a GPU): the rollout's step loop never synchronises with
the host, and an update runs and moves the weights."""
from __future__ import annotations

import pytest
import torch

from kiln.agents.config import ModelConfig
from kiln.agents.model import Seq2Seq
from kiln.compilers.gpu_launch import host_sync_forbidden
from kiln.training import distributed
from kiln.training.config import preset
from kiln.training.ppo import PPO

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_rollout_step_loop_is_sync_free_and_an_update_runs() -> None:
    # No annealing: the smoke preset's budget is one update, after which the rate would be 0 and
    # the second update could not move the weights.
    config = preset("smoke").replace(device="cuda", num_envs=256, num_steps=16, pool_size=128,
                                     fuse_env=False, anneal_lr=False)
    torch.manual_seed(0)
    trainer = PPO(config, Seq2Seq(ModelConfig.preset("tiny")), torch.device("cuda"),
                  distributed.Dist())
    trainer.train_update()  # warm-up: numba kernels, lanes started
    before = [p.detach().clone() for p in trainer.model.parameters()]
    with host_sync_forbidden(torch):
        trainer.collect()
    trainer.train_update()
    logged = trainer.read_stats()
    assert trainer.global_step == 2 * config.batch_size
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))
    assert 0.0 <= logged["charts/train_pass_rate"] <= 1.0
