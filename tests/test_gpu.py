"""On a real GPU: every CUDA kernel equals its CPU twin bit for bit, at sizes that fill the chip.

Skipped where torch sees no CUDA device (CI); the CUDA-simulator tests cover the kernels there
on small batches. Run on the GPU machine with ``python -m pytest -q tests/test_gpu.py``.
"""
import numpy as np
import pytest
import torch

from kiln.compilers import isa
from kiln.compilers.programs.generator import GenConfig, generate_batch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CONFIGS = [GenConfig(), GenConfig(min_stmts=20, max_stmts=20, max_depth=2),
           GenConfig(p_for=0.25, p_while=0.15, max_trip=16)]


def _fields(record):
    """A TokenBatch (dataclass) or CodeBatch (NamedTuple) as a dict of its tensors."""
    if hasattr(record, "_asdict"):
        return record._asdict()
    from dataclasses import fields
    return {f.name: getattr(record, f.name) for f in fields(record)}


@pytest.mark.parametrize("config_index", range(len(CONFIGS)))
def test_generator_gpu_equals_cpu(config_index):
    config = CONFIGS[config_index]
    seed = 1234 + config_index
    cpu = generate_batch(20_000, seed, config)
    gpu = generate_batch(20_000, seed, config, device="cuda")
    for name, value in _fields(cpu).items():
        assert torch.equal(value, _fields(gpu)[name].cpu()), f"seed {seed}: {name} differs"


@pytest.mark.parametrize("opt", [0, 1, 2])
def test_batch_compiler_gpu_equals_cpu(opt):
    from kiln.compilers.batch import compile_batch
    for seed, config in enumerate(CONFIGS):
        batch = generate_batch(20_000, seed, config)
        gpu = compile_batch(batch.to("cuda"), opt=opt)
        cpu = compile_batch(batch, opt=opt)
        for name, value in _fields(cpu).items():
            assert torch.equal(torch.as_tensor(value), _fields(gpu)[name].cpu()), \
                f"seed {seed} -O{opt}: {name} differs"


def test_vm_gpu_equals_cpu():
    from kiln.compilers.batch import compile_batch
    from kiln.compilers.vm import execute, link
    for seed, config in enumerate(CONFIGS):
        tokens = generate_batch(4096, seed, config)
        code = compile_batch(tokens, opt=1)
        rng = np.random.default_rng(seed)
        edge = np.array([0, 1, -1, isa.INT32_MIN, isa.INT32_MAX, 2**16, 31, 32], np.int64)
        inputs = np.concatenate([np.stack([np.roll(edge, k)[:6] for k in range(8)]),
                                 rng.integers(isa.INT32_MIN, isa.INT32_MAX, (248, 6),
                                              endpoint=True)]).astype(np.int32)
        for fuel in (100, 100_000):
            cpu = execute(code.code, inputs, tokens.nparams, code.lengths, fuel=fuel)
            dev = execute(code.code.cuda(), torch.from_numpy(inputs).cuda(), tokens.nparams.cuda(),
                          code.lengths.cuda(), fuel=fuel)
            for name, a, b in zip(("value", "status", "cycles"), cpu, dev):
                assert torch.equal(torch.as_tensor(a), b.cpu()), f"seed {seed} fuel {fuel}: {name}"
        linked_cpu, linked_gpu = link(code.code, code.lengths), link(code.code.cuda(),
                                                                     code.lengths.cuda())
        for a, b in zip(linked_cpu, linked_gpu):
            assert torch.equal(torch.as_tensor(a), b.cpu()), f"seed {seed}: link differs"


def test_vector_env_cuda_equals_cpu():
    from kiln.envs.vector_env import CompileVectorEnv
    envs = {d: CompileVectorEnv(256, device=d) for d in ("cpu", "cuda")}
    for e in envs.values():
        e.reset(seed=7)
    gen = torch.Generator().manual_seed(0)
    for step in range(64):
        masks = {d: e.action_masks() for d, e in envs.items()}
        assert torch.equal(masks["cpu"], masks["cuda"].cpu()), f"step {step}: masks"
        actions = (torch.rand(masks["cpu"].shape, generator=gen) * masks["cpu"]).argmax(1)
        out = {d: e.step(actions.to(d)) for d, e in envs.items()}
        for i in range(1, 4):  # rewards, terminated, truncated
            assert torch.equal(torch.as_tensor(out["cpu"][i]),
                               torch.as_tensor(out["cuda"][i]).cpu()), f"step {step}: item {i}"


def test_repeated_launches_take_the_thin_path():
    """After its first launch, a kernel launches through gpu_launch's thin path, and what it
    computes is what numba's own launch computes (test_vm_gpu_equals_cpu checks it against the
    CPU as well)."""
    from kiln.compilers import gpu_launch
    from kiln.compilers.asm import assemble
    from kiln.compilers.vm import execute
    assert gpu_launch.fast_path_available(), "numba-cuda lacks the internals of the thin path"
    code = torch.from_numpy(np.stack([assemble("get 0\nget 1\nadd\nreturn\n")] * 3)).cuda()
    inputs = torch.tensor([[1, 2], [isa.INT32_MAX, 1]], dtype=torch.int32, device="cuda")
    first = execute(code, inputs, 2)
    before = gpu_launch.launch_counts()["thin"]
    again = execute(code, inputs, 2)
    assert gpu_launch.launch_counts()["thin"] >= before + 2, "link and execute went through numba"
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    assert again.value.cpu().tolist() == [[3, isa.INT32_MIN]] * 3


def test_neural_sampling_on_cuda_is_sync_free_valid_and_graph_equals_eager():
    """The decode loop under sync debug mode "error" (a host synchronisation raises), the CUDA
    graph replay equal to the eager loop, every candidate a valid program, and the batched
    targets equal on CUDA and CPU."""
    from kiln.agents.config import ModelConfig
    from kiln.agents.model import Seq2Seq
    from kiln.agents.sampling import sample, source_width
    from kiln.agents.targets import oracle_targets
    from kiln.compilers.validate import validate
    from kiln.envs.programs import DEFAULT_GENERATOR

    torch.manual_seed(0)
    model = Seq2Seq(ModelConfig.preset("small")).cuda().to(torch.bfloat16).eval()
    batch = generate_batch(512, 77, DEFAULT_GENERATOR).to("cuda")
    width = source_width(batch, model)
    for temperature in (0.0, 1.0):
        eager = sample(model, batch, 4, temperature=temperature, max_len=64, seed=3,
                       cuda_graph=False, width=width, sync_check=True)
        graph = sample(model, batch, 4, temperature=temperature, max_len=64, seed=3,
                       cuda_graph=True, width=width)
        assert torch.equal(eager.tokens, graph.tokens), f"temperature {temperature}"
        code, lengths = graph.code.cpu().numpy(), graph.lengths.cpu().numpy()
        for lane in range(0, len(lengths), 7):
            validate(code[lane, :lengths[lane]])
    on_gpu, on_cpu = oracle_targets(batch, 128), oracle_targets(batch.to("cpu"), 128)
    assert all(torch.equal(a.cpu(), b) for a, b in zip(on_gpu, on_cpu))


def test_neural_sampling_on_cuda_sorted_into_chunks_equals_one_chunk(monkeypatch):
    """Programs sorted by length, cross-attention per chunk over its own width (graph and
    eager, the eager loop without host synchronisation) against one chunk over the batch's
    width: the same candidates in the batch's order, up to float rounding (fp32 model)."""
    from kiln.agents import sampling
    from kiln.agents.config import ModelConfig
    from kiln.agents.model import Seq2Seq
    from kiln.envs.programs import DEFAULT_GENERATOR

    torch.manual_seed(1)
    model = Seq2Seq(ModelConfig.preset("small")).cuda().eval()
    batch = generate_batch(512, 78, DEFAULT_GENERATOR).to("cuda")
    width = sampling.source_width(batch, model)
    monkeypatch.setattr(sampling, "CHUNK_PROGRAMS", 64)
    assert len(sampling.length_chunks(batch, model)[1]) == 8
    for temperature in (0.0, 1.0):
        args = dict(temperature=temperature, max_len=64, seed=4, greedy_first=True)
        one = sampling.sample(model, batch, 2, width=width, **args)
        graph = sampling.sample(model, batch, 2, **args)
        eager = sampling.sample(model, batch, 2, cuda_graph=False, sync_check=True, **args)
        assert torch.equal(graph.tokens, eager.tokens), f"temperature {temperature}"
        same = (one.tokens == graph.tokens).all(1)
        assert float(same.float().mean()) >= 0.99, f"temperature {temperature}"
        torch.testing.assert_close(graph.logprob[same], one.logprob[same], atol=1e-3, rtol=1e-4)
