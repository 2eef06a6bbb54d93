"""``kiln.fileio``: atomic writes that refuse every path that is not a plain file."""
import os
import stat
import subprocess
import sys

import pytest

from kiln.fileio import OutputPathError, atomic_write, check_output_path


def test_writes_new_file_and_replaces_regular_file_keeping_mode(tmp_path):
    path = tmp_path / "out.json"
    atomic_write(path, "first")
    assert path.read_text() == "first"
    os.chmod(path, 0o640)
    atomic_write(str(path), b"second")
    assert path.read_bytes() == b"second"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert os.listdir(tmp_path) == ["out.json"]  # no temporary file left behind


@pytest.mark.parametrize("make", ["missing_dir", "directory", "symlink", "fifo", "read_only",
                                  "empty", "device"])
def test_refuses_paths_that_are_not_plain_writable_files(tmp_path, make):
    target = tmp_path / "t"
    if make == "missing_dir":
        target = tmp_path / "no" / "such" / "t"
    elif make == "directory":
        target.mkdir()
    elif make == "symlink":
        (tmp_path / "real").write_text("keep")
        target.symlink_to(tmp_path / "real")
    elif make == "fifo":
        os.mkfifo(target)
    elif make == "read_only":
        target.write_text("keep")
        os.chmod(target, 0o444)
    elif make == "empty":
        target = ""
    elif make == "device":
        target = "/dev/null"
    with pytest.raises(OutputPathError, match="cannot write|non-empty"):
        atomic_write(target, "x")
    if make == "symlink":
        assert (tmp_path / "real").read_text() == "keep" and target.is_symlink()
    if make == "read_only":
        assert target.read_text() == "keep"
    assert os.path.exists("/dev/null") and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_check_output_path_accepts_new_file_in_existing_dir(tmp_path):
    assert check_output_path(tmp_path / "new.txt") == tmp_path / "new.txt"


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    # A full disk: RLIMIT_FSIZE makes the write fail part way, as ENOSPC would.
    path = tmp_path / "out.txt"
    path.write_text("old")
    script = ("import resource, signal, sys\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
              "from kiln.fileio import atomic_write\n"
              "try:\n    atomic_write(sys.argv[1], 'x' * 100000)\n"
              "except OSError as exc:\n    print('failed', exc.errno)\n")
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.startswith("failed"), out.stderr
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]
