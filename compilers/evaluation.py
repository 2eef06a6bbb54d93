"""The evaluation protocol: how a compiled program is tested and how its results are scored.

One definition, read by the environments (rewards), the benchmarks (the suite's costs) and
whatever else judges programs (verification, leaderboards). It says

- **which inputs**: ``test_inputs`` draws ``num_tests`` rows per program from a counter-based
  key, on the device of the key: ``EDGE_ROWS`` rows of edge values (each parameter takes each of
  ``0, 1, -1, INT_MIN, INT_MAX, 2**k, -2**k, 2**k - 1`` once), optionally ``literal_rows`` rows
  built from the program's own literals and their neighbours (``lit - 1, lit, lit + 1``), then
  random rows (small values, signed powers of two, uniform int32);
- **how many and which fuel**: ``NUM_TESTS`` rows, ``FUEL`` instructions per run (the defaults;
  callers may pass others);
- **how to run**: ``run_tests`` runs candidates and references side by side in one VM launch;
- **the metrics**: ``compare`` gives, per program, which tests pass (same value, or both out of
  fuel), the pass rate, the mean cost (cycles per test) of each side and the speedup
  (reference cycles over candidate cycles; its inverse is the cost ratio); ``geometric_mean``
  aggregates ratios over programs.

Everything is torch arithmetic on the inputs' device, CPU or CUDA, with no host round trip (no
``.item()``, no copies, no branching on values), so the GPU training loop can call it as it is.
The same keys give the same bits on either device.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .hashing import GOLDEN, MASK32, TESTS, draw, fmix32, mul32
from .isa import INT32_MAX, INT32_MIN, MAX_PARAMS
from .vm import execute
from .vm.status import DEFAULT_FUEL, OK, OUT_OF_FUEL, Result

NUM_TESTS = 32       # test rows per program
EDGE_ROWS = 8        # rows of edge values (each parameter sees each edge kind once)
SMALL_RANGE = 16     # "small" random inputs are in -SMALL_RANGE..SMALL_RANGE
FUEL = DEFAULT_FUEL  # instructions one run may execute before it is out of fuel
_LITERAL_SALT = 0x27D4EB2F  # separates the literal rows' hash stream from the random rows'


def _edge_value(kind: torch.Tensor, power: torch.Tensor) -> torch.Tensor:
    """Edge case ``kind`` (0..7): 0, 1, -1, INT_MIN, INT_MAX, power, -power, power - 1.

    A chain of selects rather than a lookup table: a table would have to be copied to the
    device, which synchronises with it.
    """
    values = (0, 1, -1, INT32_MIN, INT32_MAX)
    edge = torch.where(kind == 5, power, torch.where(kind == 6, -power, power - 1))
    for k in reversed(range(len(values))):
        edge = torch.where(kind == k, values[k], edge)
    return edge


def _literal_value(lits: torch.Tensor, nlits: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """A literal of each program (picked by ``bits``) plus -1, 0 or +1, wrapped to int32:
    int64 ``[B, T, P]``. ``lits`` is ``[B, K]``, ``nlits`` ``[B]`` (at least 1 where used)."""
    count = nlits.to(torch.int64).clamp(min=1)[:, None, None]
    index = (bits % count).flatten(1)
    picked = lits.to(torch.int64).gather(1, index).view(bits.shape)
    value = picked + (bits >> 8) % 3 - 1
    return (value - INT32_MIN) % 2**32 + INT32_MIN


def test_inputs(key_lo: torch.Tensor, key_hi: torch.Tensor, episode: torch.Tensor,
                num_tests: int = NUM_TESTS, *, lits: torch.Tensor | None = None,
                nlits: torch.Tensor | None = None, literal_rows: int = 0) -> torch.Tensor:
    """The test inputs of each program: int32 ``[B, num_tests, MAX_PARAMS]``.

    ``key_lo``, ``key_hi`` and ``episode`` are int64 ``[B]`` (``hashing.split_key`` makes keys;
    the episode is any counter). Rows ``0..EDGE_ROWS-1`` are edge cases: each parameter takes
    each of ``0, 1, -1, INT_MIN, INT_MAX, 2**k, -2**k, 2**k - 1`` (``k`` drawn in 1..30) once, in
    an order rotated per parameter by a draw, so the combinations change every episode. With
    ``literal_rows`` > 0 and the programs' literals (``lits`` int ``[B, K]``, ``nlits`` ``[B]``),
    the next ``literal_rows`` rows give each parameter one of its program's literals plus -1, 0
    or +1 (programs without literals keep random rows there). The other rows mix small values
    (-16..16, a quarter), signed powers of two ``±2**k`` (k in 0..30, a quarter) and uniform
    int32 (half). Without literal rows the draw is the environments' since their first release.
    """
    device = key_lo.device
    base = draw(key_lo, key_hi, episode, TESTS)[:, None, None]
    row = torch.arange(num_tests, dtype=torch.int64, device=device)[None, :, None]
    param = torch.arange(MAX_PARAMS, dtype=torch.int64, device=device)[None, None, :]
    # One fresh word per (row, param) from a per-episode base: a counter-mode hash, so each
    # element costs two mixes however the batch is laid out.
    value = fmix32((base + mul32(row * MAX_PARAMS + param + 1, GOLDEN)) & MASK32)
    bits = fmix32(value ^ 0x5BD1E995)
    rotation = fmix32((base ^ (param + 0x1B873593)) & MASK32) % EDGE_ROWS

    power = 1 << (bits >> 8) % 31
    edge = _edge_value((row + rotation) % EDGE_ROWS, power.clamp(min=2))
    small = (bits >> 2) % (2 * SMALL_RANGE + 1) - SMALL_RANGE
    signed_power = torch.where((bits >> 16) & 1 == 1, -power, power)
    uniform = value - (value > INT32_MAX).to(torch.int64) * 2**32
    kind = bits & 3
    rand = torch.where(kind == 0, small, torch.where(kind == 1, signed_power, uniform))
    if literal_rows > 0:
        if lits is None or nlits is None:
            raise ValueError("literal_rows > 0 needs the programs' lits and nlits")
        literal = _literal_value(lits, nlits, fmix32(value ^ _LITERAL_SALT))
        in_band = (row >= EDGE_ROWS) & (row < EDGE_ROWS + literal_rows)
        rand = torch.where(in_band & (nlits > 0)[:, None, None], literal, rand)
    return torch.where(row < EDGE_ROWS, edge, rand).to(torch.int32)


def run_tests(candidate: torch.Tensor, candidate_len: torch.Tensor, reference: torch.Tensor,
              reference_len: torch.Tensor, nparams: torch.Tensor, inputs: torch.Tensor,
              fuel: int = FUEL) -> tuple[Result, Result]:
    """Candidate and reference of every program on its tests, in one batched VM launch.

    ``candidate`` ``[B, Lc, 2]`` and ``reference`` ``[B, Lr, 2]`` are int32 bytecode with int32
    ``[B]`` lengths (a length of 0 makes a program's run free: callers that skip a program pass
    0); ``inputs`` is int32 ``[B, T, P]``. Returns the two ``Result``s, ``[B, T]`` each.
    """
    lanes = candidate.shape[0]
    width = max(candidate.shape[1], reference.shape[1])
    code = candidate.new_zeros((2 * lanes, width, 2))
    code[:lanes, :candidate.shape[1]] = candidate
    code[lanes:, :reference.shape[1]] = reference
    result = execute(code, torch.cat([inputs, inputs]), torch.cat([nparams, nparams]),
                     torch.cat([candidate_len, reference_len]), fuel)
    return (Result(*(x[:lanes] for x in result)), Result(*(x[lanes:] for x in result)))


class Comparison(NamedTuple):
    """How each candidate did against its reference on the same tests (see ``compare``)."""

    passed: torch.Tensor          # bool [B, T]: both finished with the same value
    pass_rate: torch.Tensor       # float64 [B]: fraction of tests passed
    candidate_cost: torch.Tensor  # float64 [B]: the candidate's mean cycles per test
    reference_cost: torch.Tensor  # float64 [B]: the reference's mean cycles per test
    speedup: torch.Tensor         # float64 [B]: reference cycles / candidate cycles (each >= 1),
    #                               0 unless every run of both finished within its fuel
    fuel_out: torch.Tensor        # bool [B]: the candidate ran out of fuel on a test
    answered: torch.Tensor        # bool [B]: the reference finished on every test

    @property
    def correct(self) -> torch.Tensor:
        """Bool ``[B]``: every test passed."""
        return self.passed.all(1)


def compare(candidate: Result, reference: Result) -> Comparison:
    """Score candidates against references run on the same inputs (``[B, T]`` results).

    A test passes when both runs finish within their fuel and return the same value. A
    reference that runs out of fuel on a test leaves the program without a defined answer
    (``answered`` False): no candidate can pass that test. Costs are the cycles summed over
    the tests; ``speedup`` divides the reference's total by the candidate's, each at least 1,
    so equal code gives exactly 1, and is 0 where any run was cut off (a cut-off run's cycles
    say nothing about its cost). Arithmetic is exact integer sums then float64, so CPU and
    CUDA agree bit for bit.
    """
    finished = (candidate.status == OK) & (reference.status == OK)
    passed = finished & (candidate.value == reference.value)
    tests = passed.shape[1]
    candidate_total = candidate.cycles.sum(1, dtype=torch.int64)
    reference_total = reference.cycles.sum(1, dtype=torch.int64)
    speedup = torch.where(finished.all(1),
                          reference_total.clamp(min=1).to(torch.float64)
                          / candidate_total.clamp(min=1).to(torch.float64), 0.0)
    return Comparison(passed, passed.sum(1, dtype=torch.float64) / tests,
                      candidate_total.to(torch.float64) / tests,
                      reference_total.to(torch.float64) / tests, speedup,
                      (candidate.status == OUT_OF_FUEL).any(1),
                      (reference.status == OK).all(1))


def geometric_mean(values: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """The geometric mean of positive ``values`` along ``dim`` (float64): the mean of ratios
    (speedups, costs relative to a baseline) that treats ×2 and ×½ symmetrically."""
    return values.to(torch.float64).log().mean(dim).exp()
