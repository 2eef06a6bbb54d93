"""Saying so when the first use of kiln's numba kernels will compile them.

numba compiles each kernel on its first call and caches the machine code beside the module
(``__pycache__``, or ``NUMBA_CACHE_DIR``); on a cold cache a first ``kiln run`` takes seconds
and a first vector env most of a minute, which would otherwise pass in silence.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

NOTICE = ("kiln: compiling numba kernels on first use (a minute or so on a cold cache; they "
          "are cached for later runs)")


def kernels_cached() -> bool:
    """Whether numba's cache holds compiled kernels of the CPU VM (the first kernels any
    command runs): their index files, beside the module or under ``NUMBA_CACHE_DIR``."""
    from .compilers.vm import cpu

    source = Path(cpu.__file__)
    places = [source.parent / "__pycache__"]
    if os.environ.get("NUMBA_CACHE_DIR"):
        places = [Path(os.environ["NUMBA_CACHE_DIR"])]
    pattern = f"{source.stem}.*.nbi"
    return any(any(place.rglob(pattern)) for place in places if place.is_dir())


def notice_if_cold(stream=None) -> bool:
    """Print ``NOTICE`` (one line, to stderr) if the kernels are not cached; return whether."""
    if kernels_cached():
        return False
    print(NOTICE, file=stream or sys.stderr, flush=True)
    return True
