"""Safe file writes: every file kiln writes goes through ``atomic_write``.

A write either leaves the complete new file at the path or leaves the path as it was: the data
goes to a temporary file in the same directory, is flushed and fsynced, then renamed over the
target (``os.replace`` is atomic on one file system). Paths that are not plain files are refused
before anything is written: ``os.replace`` would otherwise swap a device, a FIFO or a symlink's
target for a regular file.

This module imports nothing from kiln, so every subpackage may use it.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


class OutputPathError(ValueError):
    """A path kiln was asked to write cannot be written safely; the message says why."""


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a ``Path`` if a file can be written there, else ``OutputPathError``.

    Accepted: a new file in an existing, writable directory, or an existing regular file that
    is writable. Refused: an empty path, a directory, a symlink, a device, a FIFO or a socket,
    a missing parent directory, a read-only file or directory. Call it before long work, so
    that a bad path fails before the work, not after.
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise OutputPathError(f"output path must be a non-empty file name, got {path!r}")
    target = Path(path)
    parent = target.parent
    if not parent.is_dir():
        raise OutputPathError(f"cannot write {target}: directory {parent} does not exist")
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputPathError(f"cannot write {target}: directory {parent} is not "
                                  f"writable") from None
        return target
    except OSError as exc:
        raise OutputPathError(f"cannot write {target}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise OutputPathError(f"cannot write {target}: it is a directory")
    if not stat.S_ISREG(mode):
        raise OutputPathError(f"cannot write {target}: it exists and is not a regular file "
                              f"(a symlink, device, FIFO or socket); give a file name")
    # The mode bits count too: root may write anything, but a file marked read-only is kept.
    if not mode & 0o222 or not os.access(target, os.W_OK):
        raise OutputPathError(f"cannot write {target}: the file is read-only")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {target}: directory {parent} is not writable "
                              f"(the file is replaced through a temporary file beside it)")
    return target


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; return the path.

    Checks the path with ``check_output_path`` first. On any failure (a full disk, an
    interrupt) the temporary file is removed and the old file, if any, is untouched;
    ``OutputPathError`` for a refused path, ``OSError`` for a failure of the write itself.
    """
    target = check_output_path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        if target.exists():  # keep the permissions of the file being replaced
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(target.parent)
    return target


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; some file systems cannot fsync a directory, which is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
