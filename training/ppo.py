"""Native PPO: the neural compiler fine-tuned against the oracle, every tensor on the device.

CleanRL's ``ppo.py`` layout, read top to bottom: config and seeding, envs, storage preallocated
as ``[num_steps, num_envs, ...]``, rollout, advantages, minibatch epochs. What differs is what a
transformer policy over token episodes needs:

- **Rollout, one token per step.** ``CompileVectorEnv`` runs on the device; the policy advances
  every lane by one token with its incremental decoder (``Seq2Seq.step``: a per-lane KV cache,
  reset by the env's done mask). The encoder runs once per rollout over the env's whole program
  table (weights are fixed during a rollout) and lanes read their program's row. Nothing in the
  step loop reads a tensor on the host.
- **Updates, one sequence per episode.** A rollout's transitions are grouped into *segments*
  (the tokens one lane emitted for one episode in this rollout, after the prefix it had emitted
  before). The decoder runs teacher-forced over whole segments, so each episode costs one
  forward pass, not one per token: once without gradients for the reference policy's
  log-probabilities, then in every minibatch (a set of segments) for the PPO loss.
- **bf16 on CUDA** (``precision``): rollout steps and updates run under bf16 autocast, with
  log-probabilities, the loss and the optimiser in float32; the behaviour log-probabilities are
  then recomputed by the update's own teacher-forced pass (the incremental decoder rounds
  differently), so that each update's first ratio is 1.
- **KL penalty to the starting policy** (RLHF's): each token's reward is reduced by
  ``kl_coef * (log pi - log pi_ref)``, pi_ref being the frozen imitation model, so that
  correctness is not traded away for speed.
- **A fresh stream of programs**: every ``refresh_every`` updates the env's generator pool is
  regenerated (on the device) from a new seed and every lane restarts.

The host reads the device a few times per update (shapes of the segment tables, minibatch
sizes) and the statistics every ``log_every`` updates.
"""
from __future__ import annotations

import copy
from typing import Any, NamedTuple

import torch
from torch import nn

from ..agents.model import BOS, Memory, Seq2Seq
from ..agents.sampling import choose
from ..compilers.vocab import TARGET_VOCAB_SIZE
from ..envs.vector_env import CompileVectorEnv
from ..envs.reward import CORRECT, FUEL_OUT, WRONG
from . import distributed
from .config import PPO_STREAMS, TrainConfig
from .ppo_loss import explained_variance, gae, kl_shaped_rewards, ppo_loss


class Storage(NamedTuple):
    """One rollout, CleanRL's layout: ``[num_steps, num_envs, ...]`` tensors on the device."""

    actions: torch.Tensor    # int64: the token taken
    logprobs: torch.Tensor   # float32: its log-probability under the behaviour policy
    values: torch.Tensor     # float32: the value of the observation it was taken in
    masks: torch.Tensor      # bool [..., TARGET_VOCAB_SIZE]: the action mask it was taken under
    positions: torch.Tensor  # int64: tokens the lane had emitted before it (its position)
    rows: torch.Tensor       # int64: the episode's row of the program table
    rewards: torch.Tensor    # float32: the env's reward
    dones: torch.Tensor      # bool: the observation starts a new episode

    @classmethod
    def allocate(cls, steps: int, lanes: int, device: torch.device) -> Storage:
        def new(dtype: torch.dtype, *shape: int) -> torch.Tensor:
            return torch.zeros((steps, lanes, *shape), dtype=dtype, device=device)

        return cls(new(torch.int64), new(torch.float32), new(torch.float32),
                   new(torch.bool, TARGET_VOCAB_SIZE), new(torch.int64), new(torch.int64),
                   new(torch.float32), new(torch.bool))


class Segments(NamedTuple):
    """A rollout's episodes as teacher-forcing inputs: one row per (lane, episode) segment."""

    target_in: torch.Tensor  # int64 [N, W]: BOS then the episode's tokens (prefix included)
    rows: torch.Tensor       # int64 [N]: program table row
    of: torch.Tensor         # int64 [num_steps, num_envs]: each transition's segment


def build_segments(storage: Storage, prefix: torch.Tensor) -> Segments:
    """Group the transitions of ``storage`` by episode. ``prefix`` (int ``[num_envs, L]``) is
    the target each lane had emitted when the rollout began (the first segment's past)."""
    steps, lanes = storage.actions.shape
    length = prefix.shape[1]
    starts = storage.dones.clone()
    starts[0] = True
    local = starts.long().cumsum(0) - 1                  # segment number within the lane
    lane = torch.arange(lanes, device=prefix.device)
    segment = lane[None] * steps + local                 # sparse id: lane * steps + number
    tokens = torch.zeros((lanes * steps, length), dtype=torch.int64, device=prefix.device)
    tokens[lane * steps] = prefix.long() * ~storage.dones[0, :, None]
    tokens[segment, storage.positions.clamp(max=length - 1)] = storage.actions
    rows = torch.zeros(lanes * steps, dtype=torch.int64, device=prefix.device)
    rows[segment] = storage.rows
    used = torch.zeros(lanes * steps, dtype=torch.bool, device=prefix.device)
    used[segment] = True
    ids = used.nonzero()[:, 0]                           # host read: the number of segments
    compact = torch.full_like(rows, -1)
    compact[ids] = torch.arange(len(ids), device=ids.device)
    width = int(storage.positions.max()) + 1             # host read: the longest segment
    target_in = torch.cat([torch.full_like(tokens[ids, :1], BOS), tokens[ids, :width - 1]], 1)
    return Segments(target_in, rows[ids], compact[segment])


class Scored(NamedTuple):
    """Per-transition outputs of the policy (``[M]``, or ``[num_steps, num_envs]``)."""

    logprob: torch.Tensor
    entropy: torch.Tensor
    value: torch.Tensor


def masked_log_softmax(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits.float().masked_fill(~masks, float("-inf")), -1)


def score(model: Seq2Seq, memory: Memory, memory_rows: torch.Tensor | None,
          target_in: torch.Tensor, segment: torch.Tensor, position: torch.Tensor,
          actions: torch.Tensor, masks: torch.Tensor) -> Scored:
    """The policy's log-probability, entropy and value at transitions ``(segment, position)``
    of the teacher-forced sequences ``target_in`` (whose memory rows are ``memory_rows``).
    The heads read only the transitions' states (padding and earlier rollouts' prefixes are
    most of the sequences), and what follows them is float32 whatever the autocast."""
    hidden = model.hidden(memory, target_in, rows=memory_rows)[segment, position]
    logp = masked_log_softmax(model.logits(hidden), masks)
    entropy = -(logp.exp() * logp.masked_fill(~masks, 0.0)).sum(-1)
    return Scored(logp.gather(1, actions[:, None])[:, 0], entropy,
                  model.value(hidden)[:, 0].float())


def gumbel_noise(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Standard Gumbel noise for ``choose``'s Gumbel-max draw (the argmax of log-probabilities
    plus this is a draw from their softmax), from ``generator`` on its device."""
    uniform = torch.rand(shape, generator=generator, device=generator.device)
    return -torch.log(-torch.log(uniform.clamp_(min=1e-12)))


def encode_table(model: Seq2Seq, env: CompileVectorEnv) -> Memory:
    """The encoder's output for every row of the env's program table (no gradient)."""
    table = env.program_table
    width = max(1, int((table.source != 0).sum(1).max()))  # host read, once per table
    with torch.no_grad():
        return model.encode(table.source[:, :width], table.lits)


class Stats:
    """Device-side sums of what the rollouts did, read on the host only when logged."""

    NAMES = ("episodes", "return", "length", "correct", "wrong", "fuel_out", "invalid",
             "log_cost_ratio")

    def __init__(self, lanes: int, device: torch.device):
        self.sums = torch.zeros(len(self.NAMES), dtype=torch.float64, device=device)
        self.running_return = torch.zeros(lanes, dtype=torch.float64, device=device)
        self.running_length = torch.zeros(lanes, dtype=torch.float64, device=device)

    def record(self, reward: torch.Tensor, done: torch.Tensor, info: dict[str, Any]) -> None:
        self.running_return += reward
        self.running_length += 1
        outcome = info["outcome"]
        correct = outcome == CORRECT
        ratio = info["candidate_cost"].clamp(min=1e-6) / info["oracle_cost"].clamp(min=1e-6)
        self.sums += torch.stack([
            done.sum(), (self.running_return * done).sum(), (self.running_length * done).sum(),
            correct.sum(), (outcome == WRONG).sum(), (outcome == FUEL_OUT).sum(),
            (done & ~correct & (outcome != WRONG) & (outcome != FUEL_OUT)).sum(),
            torch.where(correct, ratio.double().log(), 0.0).sum()]).double()
        self.running_return *= ~done
        self.running_length *= ~done

    def read(self, ctx: distributed.Dist) -> dict[str, float]:
        """Means since the last read (over all processes), then zero the sums."""
        s = dict(zip(self.NAMES, distributed.mean(self.sums, ctx).tolist()))
        self.sums.zero_()
        episodes = max(s["episodes"], 1.0)
        out = {"charts/episodic_return": s["return"] / episodes,
               "charts/episodic_length": s["length"] / episodes,
               "charts/train_pass_rate": s["correct"] / episodes,
               "charts/train_invalid_rate": s["invalid"] / episodes}
        if s["correct"]:
            out["charts/train_cost_ratio_oracle"] = float(
                torch.tensor(s["log_cost_ratio"] / s["correct"]).exp())
        return out


class PPO:
    """The native PPO trainer's state: model, reference, optimiser, env, counters.

    ``train_update`` runs one rollout and update, ``read_stats`` reads what they measured;
    ``state``/``load_state`` give and take what a checkpoint holds.
    """

    def __init__(self, config: TrainConfig, model: Seq2Seq, device: torch.device,
                 ctx: distributed.Dist, reference: Seq2Seq | None = None):
        self.config, self.device, self.ctx = config, device, ctx
        self.model = model.to(device)
        # The reference policy: the starting weights, frozen (a resumed run passes its own).
        source = reference if reference is not None else model
        self.reference = copy.deepcopy(source).to(device).eval().requires_grad_(False)
        distributed.broadcast_parameters(self.model.parameters(), ctx)
        # On CUDA one fused kernel updates every parameter (foreach launches several per group).
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate,
                                          eps=1e-5, fused=True if device.type == "cuda" else None)
        self.bf16 = config.precision == "bf16" or (config.precision == "auto"
                                                   and device.type == "cuda")
        self.generator = torch.Generator(device=device).manual_seed(config.seed + ctx.rank)
        self.env = CompileVectorEnv(config.num_envs, config.env_params(), device=device,
                                    source=config.source, pool_size=config.pool_size,
                                    pool_seed=self.pool_seed(0),
                                    fuse=config.fuse_env and device.type == "cuda")
        self.update = 0
        self.global_step = 0
        self.stats = Stats(config.num_envs, device)
        self.storage = Storage.allocate(config.num_steps, config.num_envs, device)
        self._restart = True  # reset every lane before the next rollout

    def autocast(self) -> torch.autocast:
        """The context the policy runs in: bf16 autocast when ``self.bf16`` (matrix products in
        bfloat16; ``score`` and the loss keep log-probabilities in float32)."""
        return torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16)

    def pool_seed(self, refresh: int) -> int:
        """The generator stream of the ``refresh``-th program table: in PPO's band of
        streams, distinct per process (streams from 7,000,000 up are held out)."""
        stream = (self.config.seed * 8 + self.ctx.rank) * 10_007 + refresh
        return PPO_STREAMS + stream % 2_000_000

    def lane_seed(self) -> int:
        """The env reset seed when lanes restart at update ``self.update`` (a documented
        reseed: a resumed run restarts every lane here rather than restoring episodes)."""
        return ((self.config.seed * 1_000_003 + self.update) * 64 + self.ctx.rank) * 2**20

    # -- one update ---------------------------------------------------------------------
    def _start_lanes(self) -> None:
        """Reset every lane (a fresh table, a resume) and run the policy on the first tokens."""
        c, env = self.config, self.env
        env.reset(seed=self.lane_seed())
        with self.autocast():
            self.reference_memory = encode_table(self.reference, env)
            self.memory = encode_table(self.model, env)
        self.cache = self.model.new_cache(c.num_envs, self.device,
                                          torch.bfloat16 if self.bf16 else None)
        self.next_done = torch.ones(c.num_envs, dtype=torch.bool, device=self.device)
        with torch.no_grad(), self.autocast():
            self.next_logits, self.next_value = self.model.step(
                self.memory, self.cache, torch.zeros_like(self.next_done, dtype=torch.int64),
                self.next_done, rows=env.state.program)
        self._restart = False

    def rollout(self) -> Segments:
        """Step every lane ``num_steps`` tokens and group the transitions into segments.

        The policy's output for the next observation is carried from step to step (and from
        rollout to rollout: CleanRL's ``next_obs``), so each step runs the decoder once, on the
        token just taken. After an update, the first step of each lane's episode in progress
        still comes from the weights before it (its KV cache too): that is the behaviour policy,
        whose log-probabilities PPO's ratio divides by.
        """
        c, env, model, s = self.config, self.env, self.model, self.storage
        if self._restart:
            self._start_lanes()
        elif c.train_encoder:
            with self.autocast():  # the weights changed in the last update
                self.memory = encode_table(model, env)
        # Else the memory is still exact: without train_encoder the update scores through this
        # memory without gradient, so neither the encoder nor the decoder's memory projections
        # (cross_kv) change, and re-encoding the table would only cost time (on a CPU, 40% of
        # the default preset's update).
        prefix = env.state.target.clone()
        self.collect()
        return build_segments(s, prefix)

    @torch.no_grad()
    def collect(self) -> None:
        """The step loop of a rollout: ``num_steps`` tokens per lane into the storage, with no
        host synchronisation (``tests/test_gpu_ppo.py`` checks it on CUDA)."""
        c, env, model, s = self.config, self.env, self.model, self.storage
        model.eval()
        for step in range(c.num_steps):
            state = env.state
            s.dones[step] = self.next_done
            s.masks[step] = state.mask
            s.positions[step] = state.length
            s.rows[step] = state.program
            s.values[step] = self.next_value
            noise = gumbel_noise((c.num_envs, TARGET_VOCAB_SIZE), self.generator)
            action, s.logprobs[step] = choose(self.next_logits, state.mask, c.temperature,
                                              1.0, noise)
            _, reward, terminated, truncated, info = env.step(action)
            self.next_done = terminated | truncated
            s.actions[step] = action
            s.rewards[step] = reward
            self.stats.record(reward, self.next_done, info)
            with self.autocast():
                self.next_logits, self.next_value = model.step(
                    self.memory, self.cache, action, self.next_done, rows=env.state.program)

    def minibatches(self, segments: Segments) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A random split of the segments into ``num_minibatches`` sets; each as (segment ids,
        flat indices of their transitions)."""
        n = segments.rows.shape[0]
        parts = min(self.config.num_minibatches, n)
        order = torch.randperm(n, generator=self.generator, device=self.device)
        part_of = torch.empty_like(order)
        part_of[order] = torch.arange(n, device=self.device) * parts // n
        flat_part = part_of[segments.of.reshape(-1)]
        by_part = flat_part.argsort(stable=True)
        counts = torch.bincount(flat_part, minlength=parts).tolist()  # host read per epoch
        seg_counts = torch.bincount(part_of, minlength=parts).tolist()
        return list(zip(order.split(seg_counts), by_part.split(counts)))

    def train_update(self) -> None:
        """One rollout and its PPO update (``read_stats`` reads what it measured)."""
        c, s = self.config, self.storage
        frac = 1.0 - self.update / c.num_updates
        lr = c.learning_rate * frac if c.anneal_lr else c.learning_rate
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        segments = self.rollout()
        actions, masks = s.actions.reshape(-1), s.masks.reshape(-1, TARGET_VOCAB_SIZE)
        seg_of, position = segments.of.reshape(-1), s.positions.reshape(-1)
        old_logprob, values = s.logprobs.view(-1), s.values.view(-1)

        def inputs(seg_ids: torch.Tensor, flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
            """``score``'s arguments for a minibatch: its segments' sequences, and each of its
            transitions' segment (numbered within the minibatch), position, action, mask."""
            local = torch.full_like(segments.rows, -1)
            local[seg_ids] = torch.arange(len(seg_ids), device=self.device)
            return (segments.target_in[seg_ids], local[seg_of[flat]], position[flat],
                    actions[flat], masks[flat])

        def policy(seg_ids: torch.Tensor, flat: torch.Tensor) -> Scored:
            """The policy's scores of a minibatch's transitions."""
            if not c.train_encoder:  # the rollout's encoding of the table, no gradient
                return score(self.model, self.memory, segments.rows[seg_ids],
                             *inputs(seg_ids, flat))
            table, rows = self.env.program_table, segments.rows[seg_ids]
            memory = self.model.encode(table.source[rows, :self.memory.attend.shape[1]],
                                       table.lits[rows])
            return score(self.model, memory, None, *inputs(seg_ids, flat))

        # The reference policy's log-probabilities, one teacher-forced pass per segment. In
        # bf16 the behaviour log-probabilities are recomputed by the same pass the epochs run
        # (as RLHF trainers recompute theirs): the rollout's incremental decoder rounds
        # differently, and PPO's ratio and the KL penalty would start away from 1 and 0.
        ref_logprob = torch.zeros_like(old_logprob)
        parts = self.minibatches(segments)
        with torch.no_grad(), self.autocast():
            for seg_ids, flat in parts:
                ref_logprob[flat] = score(self.reference, self.reference_memory,
                                          segments.rows[seg_ids], *inputs(seg_ids, flat)).logprob
                if self.bf16:
                    old_logprob[flat] = policy(seg_ids, flat).logprob
        rewards, kl = kl_shaped_rewards(s.rewards, old_logprob.view_as(s.rewards),
                                        ref_logprob.view_as(s.rewards), c.kl_coef)
        advantages, returns = gae(rewards, s.values, s.dones, self.next_value, self.next_done,
                                  c.gamma, c.gae_lambda)
        advantages, returns = advantages.reshape(-1), returns.reshape(-1)

        self.model.train()
        sums = torch.zeros(6, device=self.device)
        count = 0
        for epoch in range(c.update_epochs):
            for seg_ids, flat in (parts if epoch == 0 else self.minibatches(segments)):
                with self.autocast():
                    new = policy(seg_ids, flat)
                losses = ppo_loss(new.logprob, old_logprob[flat], new.entropy, new.value,
                                  values[flat], advantages[flat], returns[flat],
                                  clip_coef=c.clip_coef, clip_vloss=c.clip_vloss,
                                  norm_adv=c.norm_adv, ent_coef=c.ent_coef, vf_coef=c.vf_coef)
                self.optimizer.zero_grad(set_to_none=True)
                losses.loss.backward()
                distributed.average_gradients(self.model.parameters(), self.ctx)
                nn.utils.clip_grad_norm_(self.model.parameters(), c.max_grad_norm)
                self.optimizer.step()
                sums += torch.stack(list(losses[1:]))
                count += 1
            if c.target_kl and float(losses.approx_kl) > c.target_kl:
                break
        self.update += 1
        self.global_step += c.batch_size * self.ctx.world_size
        if c.refresh_every and self.update % c.refresh_every == 0 and c.source == "generator":
            self.env.regenerate(self.pool_seed(self.update // c.refresh_every))
            self._restart = True
        self._last = (torch.cat([sums / count, kl.mean()[None],
                                 explained_variance(values, returns)[None]]), lr)

    def read_stats(self) -> dict[str, float]:
        """The last update's losses and the rollouts' statistics since the last read, as
        TensorBoard scalars (a host read; every process must call it on the same updates)."""
        losses, lr = self._last
        names = ("losses/policy_loss", "losses/value_loss", "losses/entropy",
                 "losses/old_approx_kl", "losses/approx_kl", "losses/clipfrac",
                 "losses/kl_to_reference", "losses/explained_variance")
        logged = dict(zip(names, distributed.mean(losses, self.ctx).tolist()))
        logged["charts/learning_rate"] = lr
        logged.update(self.stats.read(self.ctx))
        return logged

    # -- checkpoints ----------------------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """What a checkpoint holds: tensors (model, reference, optimiser, RNG) and JSON."""
        from .checkpoint import optim_state, rng_state

        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        tensors.update({f"reference.{k}": v for k, v in self.reference.state_dict().items()})
        optim_tensors, optim_json = optim_state(self.optimizer)
        tensors.update(optim_tensors)
        tensors.update(rng_state(self.generator))
        return tensors, {"update": self.update, "optimizer": optim_json}

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Restore what ``state`` gave; the lanes restart (``lane_seed``)."""
        from .checkpoint import load_optim_state, load_rng_state

        def part(prefix: str) -> dict[str, torch.Tensor]:
            return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}

        self.model.load_state_dict(part("model."))
        self.reference.load_state_dict(part("reference."))
        load_optim_state(self.optimizer, tensors, meta["optimizer"])
        load_rng_state(self.generator, tensors)
        self.update = int(meta["update"])
        self.global_step = int(meta["global_step"])
        if self.config.refresh_every and self.config.source == "generator":
            self.env.regenerate(self.pool_seed(self.update // self.config.refresh_every))
        self._restart = True
