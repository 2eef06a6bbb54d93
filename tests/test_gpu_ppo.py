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


@pytest.mark.parametrize("train_encoder", [False, True])
def test_bf16_update_on_cuda_starts_at_ratio_one(train_encoder: bool) -> None:
    """On CUDA the policy runs in bf16 ("auto"); the update recomputes the behaviour
    log-probabilities with its own pass, so its only minibatch (one epoch) starts at ratio 1."""
    config = preset("smoke").replace(device="cuda", num_envs=256, num_steps=16, pool_size=128,
                                     fuse_env=False, anneal_lr=False, num_minibatches=1,
                                     update_epochs=1, train_encoder=train_encoder)
    torch.manual_seed(0)
    trainer = PPO(config, Seq2Seq(ModelConfig.preset("tiny")), torch.device("cuda"),
                  distributed.Dist())
    assert trainer.bf16
    trainer.train_update()
    logged = trainer.read_stats()
    assert abs(logged["losses/old_approx_kl"]) < 1e-4, logged
    assert logged["losses/clipfrac"] < 1e-3, logged
    assert abs(logged["losses/kl_to_reference"]) < 1e-3, logged
    assert trainer.memory.keys[0].dtype == trainer.cache.keys[0].dtype == torch.bfloat16
