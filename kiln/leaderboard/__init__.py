"""The kiln leaderboard: compilers ranked on the same tasks, re-validated from their artifacts.

``run_leaderboard(LeaderboardConfig(...))`` (the ``kiln leaderboard`` command) scores every
entry (the traditional compiler at each ``-O``; submissions of any compiler as a results file
plus a safetensors artifact) on every task (the public suite, held-out generated sets, and any
directory of kiln sources), and writes ``leaderboard.md``, CSV, JSON, a chart per task and
TensorBoard hparams. ``docs/leaderboard.md`` is the user's guide.
"""
from .entries import Compiled, Entry, TraditionalEntry
from .run import LeaderboardConfig, run_leaderboard
from .score import ProgramScore, Summary, score_code, summarise
from .submission import (Refused, check_claims, load_submission, make_submission,
                         write_submission)
from .tasks import HELD_OUT, TASK_NAMES, Task, TaskProgram, load_task, suite_dir

__all__ = ["Compiled", "Entry", "HELD_OUT", "LeaderboardConfig", "ProgramScore", "Refused",
           "Summary", "TASK_NAMES", "Task", "TaskProgram", "TraditionalEntry", "check_claims",
           "load_submission", "load_task", "make_submission", "run_leaderboard", "score_code", "suite_dir",
           "summarise", "write_submission"]
