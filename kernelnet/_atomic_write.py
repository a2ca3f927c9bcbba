"""Writing a file atomically: all of it at the final path, or nothing (see `atomic_write`).

Model files, checkpoints and weights are written through `atomic_write`: a crash, a full disk or
a read-only folder never leaves a half-written file at the target, and never a temporary file
for ever (the next save of the same target removes those of dead processes).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import time
from pathlib import Path


def atomic_write(path: str | os.PathLike, write_fn, overwrite: bool = True) -> None:
    """Calls `write_fn(file)` on a temporary file next to `path`, then renames it into place.

    - The temporary file is `.{name}.{pid}.{random}.tmp`: a save that crashed (kill -9, power
      loss) leaves one behind, and the next save of the same `path` removes those of processes
      that no longer run.
    - With `overwrite=False` the final step is `os.link`, which fails if `path` exists: the check
      and the rename are one atomic step, so of two concurrent saves exactly one wins.
    - The file gets the mode of any new file (0666 less the umask), not the 0600 of temporaries.
    - Errors (disk full, read-only folder or file) name `path`; no partial file is left.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"Cannot write to {str(path)!r}: it is an existing directory. Pass a file path, "
            f"e.g. {str(path / 'model.kn')!r}."
        )
    if path.exists() and not overwrite:
        raise _exists_error(path)
    if path.exists() and not os.access(path, os.W_OK):   # renaming over it would work: refuse
        raise PermissionError(errno.EACCES, f"Could not save {str(path)!r}: the file is "
                              "read-only. Make it writable (chmod u+w) or save elsewhere.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=path.parent)
    except OSError as err:
        raise _write_error(path, err) from err
    try:
        with os.fdopen(fd, "wb") as f:
            write_fn(f)
            f.flush()
            if hasattr(os, "fchmod"):                   # POSIX (Windows has no such mode)
                os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        _publish(tmp, path, overwrite)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(err, OSError) and not isinstance(err, FileExistsError):
            raise _write_error(path, err) from err
        raise


def _exists_error(path: Path) -> FileExistsError:
    return FileExistsError(f"{str(path)!r} already exists and overwrite=False.")


def _publish(tmp: str, path: Path, overwrite: bool) -> None:
    """Renames `tmp` to `path`; without `overwrite`, fails if `path` exists, atomically."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)                      # FileExistsError if path exists, even racing
    except FileExistsError:
        raise _exists_error(path) from None
    except OSError as err:                      # no hard links here (some network/FAT mounts)
        if err.errno not in _NO_LINK:
            raise
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            raise _exists_error(path) from None
        os.replace(tmp, path)
        return
    os.remove(tmp)


_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK,
            errno.ENOSYS}


def _write_error(path: Path, err: OSError) -> OSError:
    """`err` with a message naming `path` and saying what to do, same type and errno."""
    hint = ""
    if err.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        hint = " The disk or the file-size limit is full: free some space or save elsewhere."
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = (f" The folder {str(path.parent)!r} is not writable: save elsewhere or change "
                "its permissions.")
    message = f"Could not save {str(path)!r}: {err.strerror or err}.{hint}"
    return type(err)(err.errno, message) if err.errno is not None else type(err)(message)


def _temp_pattern(path: Path) -> re.Pattern:
    # .{name}.{pid}.{8 random chars from mkstemp}.tmp, or without the pid (older kernelnet)
    return re.compile(re.escape(f".{path.name}.") + r"(?:(\d+)\.)?[a-z0-9_]{8}\.tmp")


_OLD_TEMP_AGE_S = 3600  # a temporary without a pid is taken for stale after an hour


def _remove_stale_temps(path: Path) -> None:
    """Removes temporaries of `path` left by saves whose process is gone (killed mid-save).

    Only temporaries of processes on this machine can be checked; a folder shared over the
    network with another machine saving the same file at the same moment is not supported.
    Temporaries of older kernelnet versions carry no pid; they are removed after an hour.
    """
    pattern = _temp_pattern(path)
    now = time.time()
    with os.scandir(path.parent) as entries:
        stale = [e.path for e in entries if (m := pattern.fullmatch(e.name)) and (
            not _process_alive(int(m.group(1))) if m.group(1)
            else now - e.stat().st_mtime > _OLD_TEMP_AGE_S)]
    for name in stale:
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True                 # another thread of this process may be saving
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0              # another user's process; an impossible pid is not alive
    return True


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (thread-safe)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
