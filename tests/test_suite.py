"""The public suite: every program is in the language, terminates fast and computes what it says."""
from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

from kiln.compilers.frontend import parse_function
from kiln.compilers.interpreter import interpret
from kiln.compilers.programs.suite import SuiteProgram, get_program, load_suite

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
EDGES = [0, 1, -1, 2, -2, 31, 32, 1000, 1_000_000, INT_MIN, INT_MIN + 1, INT_MAX, INT_MAX - 1]
FUEL = 1_000_000
SUITE = load_suite()


def fnv1a(*words: int) -> int:
    """FNV-1a over the little-endian bytes of int32 words, as a signed int32."""
    h = 0x811C9DC5
    for byte in b"".join((x % 2**32).to_bytes(4, "little") for x in words):
        h = ((h ^ byte) * 16777619) % 2**32
    return h - 2**32 if h >= 2**31 else h


# Answers worked out by hand (or, for hash_mix, by the reference algorithm on bytes).
KNOWN: dict[str, list[tuple[tuple[int, ...], int]]] = {
    "abs_branchless": [((-5,), 5), ((7,), 7), ((INT_MIN,), INT_MIN)],
    "abs_diff": [((3, 10), 7), ((10, 3), 7)],
    "average": [((7, 8), 7), ((-1, -2), -2), ((INT_MAX, INT_MAX), INT_MAX),
                ((INT_MIN, INT_MAX), -1)],
    "binomial": [((5, 2), 10), ((28, 14), 40116600), ((5, -1), 0), ((4, 5), 0)],
    "byte_swap": [((0x12345678,), 0x78563412), ((0xFF,), -(2**24))],
    "clamp": [((15, 0, 10), 10), ((5, 10, 0), 5), ((-3, 0, 10), 0)],
    "collatz_steps": [((6,), 8), ((1,), 0), ((27,), 111), ((0,), -1)],
    "compare_ints": [((1, 2), -1), ((2, 1), 1), ((5, 5), 0)],
    "count_bits_loop": [((255,), 8), ((-1,), 32), ((INT_MIN,), 1)],
    "count_digits": [((0,), 1), ((12345,), 5), ((INT_MIN,), 10), ((-9,), 1)],
    "count_divisors": [((12,), 6), ((36,), 9), ((1,), 1), ((0,), 0)],
    "count_leading_zeros": [((1,), 31), ((0,), 32), ((-1,), 0), ((0xFFFF,), 16)],
    "count_trailing_zeros": [((8,), 3), ((0,), 32), ((INT_MIN,), 31), ((-1,), 0)],
    "days_in_month": [((2, 2000), 29), ((2, 1900), 28), ((4, 2023), 30), ((1, 2023), 31),
                      ((13, 1), 0)],
    "digit_sum": [((12345,), 15), ((INT_MIN,), 47), ((-10,), 1)],
    "digital_root": [((9875,), 2), ((0,), 0), ((-38,), 2)],
    "factorial_mod": [((10, 1000003), 628791), ((5, 7), 1), ((0, 5), 1), ((5, 1), 0)],
    "fibonacci": [((10,), 55), ((0,), 0), ((46,), 1836311903), ((-3,), 0)],
    "first_nonzero": [((0, 0, 5), 5), ((0, -2, 5), -2), ((0, 0, 0), 0)],
    "first_square_above": [((10,), 4), ((-5,), 0), ((16,), 5)],
    "fizzbuzz": [((15,), 3), ((10,), 2), ((9,), 1), ((7,), 0), ((0,), 3), ((-5,), 2)],
    "gcd": [((12, 18), 6), ((0, 0), 0), ((-4, 6), 2), ((7, 0), 7)],
    "grade": [((95,), 4), ((85,), 3), ((70,), 2), ((60,), 1), ((59,), 0), ((101,), -1)],
    "gray_code": [((5,), 7), ((0,), 0)],
    "gray_decode": [((7,), 5), ((0,), 0)],
    "hash_mix": [((1, 2, 3), fnv1a(1, 2, 3)), ((0, -1, INT_MIN), fnv1a(0, -1, INT_MIN))],
    "in_range": [((5, 0, 10), 1), ((10, 0, 10), 0), ((0, 0, 10), 1)],
    "interleave_bits": [((3, 0), 5), ((0, 1), 2), ((0xFFFF, 0xFFFF), -1)],
    "ipow": [((3, 4), 81), ((2, 31), INT_MIN), ((2, 32), 0), ((5, -1), 0), ((7, 0), 1)],
    "is_even": [((4,), 1), ((-3,), 0), ((0,), 1)],
    "is_power_of_two": [((64,), 1), ((0,), 0), ((INT_MIN,), 0), ((6,), 0)],
    "is_prime": [((97,), 1), ((91,), 0), ((2,), 1), ((1,), 0), ((999983,), 1), ((1000003,), -1)],
    "isqrt": [((99,), 9), ((100,), 10), ((INT_MAX,), 46340), ((-4,), 0)],
    "isqrt_newton": [((99,), 9), ((100,), 10), ((INT_MAX,), 46340), ((1,), 1), ((-4,), 0)],
    "lcm": [((4, 6), 12), ((0, 5), 0), ((-3, 5), 15)],
    "leap_year": [((2000,), 1), ((1900,), 0), ((2024,), 1), ((2023,), 0)],
    "log2_floor": [((1,), 0), ((1024,), 10), ((1023,), 9), ((0,), -1)],
    "lowest_set_bit": [((12,), 4), ((0,), 0), ((INT_MIN,), INT_MIN)],
    "max_of_three": [((1, 9, 3), 9), ((-1, -9, -3), -1)],
    "median_of_three": [((1, 9, 3), 3), ((9, 1, 3), 3), ((3, 3, 1), 3)],
    "midpoint": [((INT_MIN, INT_MAX), -1), ((2, 8), 5), ((8, 2), 5)],
    "mod_pow": [((2, 10, 1000), 24), ((3, 0, 7), 1), ((3, 5, 0), 0)],
    "multiplication_table": [((2, 4), 6), ((0, 9), 0)],
    "nested_pairs": [((4, 2), 2), ((3, 0), 3)],
    "next_power_of_two": [((5,), 8), ((1,), 1), ((1024,), 1024), ((-7,), 1)],
    "parity": [((7,), 1), ((3,), 0), ((-1,), 0)],
    "perfect_number": [((28,), 1), ((27,), 0), ((8128,), 1), ((1,), 0)],
    "poly6": [((2, 1, 0, 0, 0, 0), 16), ((1, 1, 2, 3, 4, 5), 15)],
    "popcount": [((-1,), 32), ((0xFF,), 8), ((0,), 0)],
    "primes_below_100": [((), 1060)],
    "quadrant": [((1, 1), 1), ((-1, 1), 2), ((-1, -1), 3), ((1, -1), 4), ((0, 5), 0)],
    "reverse_bits": [((1,), INT_MIN), ((0,), 0), ((-1,), -1)],
    "reverse_digits": [((123,), 321), ((-120,), -21), ((0,), 0)],
    "rotate_left": [((1, 33), 2), ((INT_MIN, 1), 1), ((5, 0), 5)],
    "rotate_right": [((1, 1), INT_MIN), ((6, 1), 3), ((5, 32), 5)],
    "saturating_add": [((INT_MAX, 1), INT_MAX), ((INT_MIN, -1), INT_MIN), ((2, 3), 5)],
    "sign": [((-9,), -1), ((0,), 0), ((INT_MAX,), 1)],
    "smallest_divisor": [((91,), 7), ((97,), 97), ((0,), 2)],
    "sum_multiples_3_or_5": [((10,), 23), ((0,), 0)],
    "sum_of_squares": [((3,), 14), ((-1,), 0)],
    "sum_range": [((1, 5), 10), ((5, 1), 0), ((-2, 3), 0)],
    "sum_skip_sevens": [((16,), 57), ((0,), 0)],
    "triangle_type": [((3, 3, 3), 1), ((3, 4, 5), 3), ((3, 3, 5), 2), ((1, 2, 3), 0),
                      ((INT_MAX, INT_MAX, 1), 2), ((0, 1, 1), 0)],
    "triangular": [((4,), 10), ((-4,), 0), ((1000,), 500500)],
    "xorshift": [((1, 1), 270369), ((1, 0), 1), ((0, 10), 0)],
}


def edge_rows(nparams: int, seed: int) -> np.ndarray:
    """All pairs of edge values for up to two parameters; else each edge in each position."""
    if nparams <= 2:
        return np.array(list(itertools.product(EDGES, repeat=nparams)), dtype=np.int64)
    base = np.random.default_rng(seed).integers(-100, 101, nparams)
    rows = [[e] * nparams for e in EDGES]
    for i, e in itertools.product(range(nparams), EDGES):
        row = base.copy()
        row[i] = e
        rows.append(row.tolist())
    return np.array(rows, dtype=np.int64)


def test_suite_is_large_sorted_and_unique():
    names = [p.name for p in SUITE]
    assert len(names) >= 44
    assert names == sorted(set(names))
    assert {p.nparams for p in SUITE} >= {0, 1, 2, 3, 6}


def test_get_program():
    assert get_program("gcd") == next(p for p in SUITE if p.name == "gcd")
    assert isinstance(get_program("gcd"), SuiteProgram)
    with pytest.raises(KeyError, match="gcd"):
        get_program("no_such_program")


def test_every_program_has_known_answers():
    assert sorted(KNOWN) == [p.name for p in SUITE]


@pytest.mark.parametrize("program", SUITE, ids=lambda p: p.name)
def test_program_parses_with_its_name_and_arity(program):
    fn = parse_function(program.source)
    assert fn.name == program.name
    assert fn.nparams == program.nparams


@pytest.mark.parametrize("program", SUITE, ids=lambda p: p.name)
def test_program_known_answers(program):
    cases = KNOWN[program.name]
    args = np.array([a for a, _ in cases], dtype=np.int64).reshape(len(cases), program.nparams)
    got = interpret(program.source, args).tolist()
    for (a, want), g in zip(cases, got):
        assert g == want, f"{program.name}{a}: got {g}, expected {want}"


@pytest.mark.parametrize("program", SUITE, ids=lambda p: p.name)
def test_program_runs_on_random_and_edge_inputs_within_fuel(program):
    seed = zlib.crc32(program.name.encode())
    random_rows = np.random.default_rng(seed).integers(INT_MIN, INT_MAX, (200, program.nparams),
                                                       endpoint=True)
    rows = np.concatenate([random_rows, edge_rows(program.nparams, seed)])
    out = interpret(program.source, rows, fuel=FUEL)  # OutOfFuel here names the row
    assert out.shape == (len(rows),) and out.dtype == np.int32
