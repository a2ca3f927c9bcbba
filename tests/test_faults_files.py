"""Fault injection for saving (issue 17): kill -9 mid-save and mid-checkpoint, a full disk
(RLIMIT_FSIZE), read-only targets and concurrent saves with `overwrite=False`.

Each fault runs in a child process (a real SIGKILL, a real file-size limit, a real race); the
parent then checks what is on disk: the previous file intact, no partial file, and no temporary
file once the next save has run.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from kernelnet import layers
from kernelnet.callbacks import ModelCheckpoint
from kernelnet.models import Sequential, load_model

ROOT = Path(__file__).resolve().parents[1]

PRELUDE = r"""
import os, signal, sys, time
import numpy as np
from kernelnet import layers
from kernelnet.callbacks import ModelCheckpoint
from kernelnet.models import Sequential


def model(units, name):
    m = Sequential([layers.Dense(units, input_shape=(8,), name="d")], name=name)
    m.compile("sgd", "mse")
    return m


def fsync_then(action, calls=1):
    # Makes the `calls`-th fsync of a save run `action` (the file is then fully written).
    real, seen = os.fsync, [0]

    def fsync(fd):
        seen[0] += 1
        real(fd)
        if seen[0] == calls:
            action()

    os.fsync = fsync
"""


def _model(units=4, name="parent"):
    m = Sequential([layers.Dense(units, input_shape=(8,), name="d")], name=name)
    m.compile("sgd", "mse")
    return m


def _child(code: str, *args, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERNELNET_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", PRELUDE + code, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _wait_for(path: Path, proc: subprocess.Popen, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.communicate()}")
        assert time.monotonic() < deadline, "child never reached the fault point"
        time.sleep(0.01)


def _temps(folder: Path, name="m.kn") -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


KILL_MID_SAVE = r"""
fsync_then(lambda: (open(sys.argv[2], "w").close(), time.sleep(120)))
model(64, "killed").save(sys.argv[1])
"""


def test_kill_9_during_save_keeps_the_old_file_and_the_next_save_cleans_up(tmp_path):
    target = tmp_path / "m.kn"
    _model(name="old").save(target)
    for i in range(3):                                      # three crashed saves in a row
        marker = tmp_path / f"in_fsync_{i}"
        proc = _child(KILL_MID_SAVE, target, marker)
        _wait_for(marker, proc)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        marker.unlink()
        assert load_model(target).name == "old"             # the old file is intact
        # The crash left its temporary; the save it interrupted removed the one before.
        assert len(_temps(tmp_path)) == 1 and f".{proc.pid}." in _temps(tmp_path)[0]
    _model(name="new").save(target)
    assert _temps(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.kn"]
    assert load_model(target).name == "new"


KILL_MID_CHECKPOINT = r"""
fsync_then(lambda: (open(sys.argv[2], "w").close(), time.sleep(120)), calls=2)
x = np.zeros((8, 8), "float32")
model(64, "killed").fit(x, x[:, :1].repeat(64, 1), epochs=5, verbose=0,
                        callbacks=[ModelCheckpoint(sys.argv[1])])
"""


def test_kill_9_during_checkpoint_then_the_next_checkpoint_cleans_up(tmp_path):
    target = tmp_path / "m.kn"
    marker = tmp_path / "in_fsync"
    proc = _child(KILL_MID_CHECKPOINT, target, marker)
    _wait_for(marker, proc)                                 # epoch 1 saved, epoch 2 saving
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    marker.unlink()
    assert load_model(target).name == "killed" and len(_temps(tmp_path)) == 1
    x = np.zeros((8, 8), "float32")
    _model(name="resumed").fit(x, x[:, :4], epochs=1, verbose=0,
                               callbacks=[ModelCheckpoint(str(target))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.kn"]
    assert load_model(target).name == "resumed"


def test_only_temporaries_of_dead_processes_are_removed(tmp_path):
    target = tmp_path / "m.kn"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = [f".m.kn.{dead.pid}.abcd_123.tmp",               # a crashed save: removed
             f".m.kn.{os.getpid()}.abcd_123.tmp",            # this process (another thread)
             f".m.kn.{os.getppid()}.abcd_123.tmp",           # a live process
             f".m.kn.5.{dead.pid}.abcd_123.tmp",             # belongs to target "m.kn.5"
             ".m.kn.notes.tmp", "m.kn.tmp"]                  # not ours
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    old = [".m.kn.abcd_123.tmp", ".m.kn.efgh_456.tmp"]     # older kernelnet's, without pid
    for name, age_s in zip(old, [7200, 60]):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (time.time() - age_s,) * 2)
    _model().save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.kn", *names[1:], old[1]])


DISK_FULL = r"""
import resource
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # write() then fails with EFBIG
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    model(4000, "big").save(sys.argv[1])
except OSError as err:
    print(type(err).__name__, err.errno, err)
    sys.exit(3)
"""


def test_disk_full_is_a_clear_error_and_leaves_no_partial_file(tmp_path):
    import errno

    target = tmp_path / "m.kn"
    _model(name="old").save(target)
    before = target.read_bytes()
    out, err = _child(DISK_FULL, target, 64 * 1024).communicate(timeout=120)
    assert f"OSError {errno.EFBIG} [Errno {errno.EFBIG}] Could not save '{target}': File too " \
           "large. The disk or the file-size limit is full" in out, (out, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.kn"]
    assert target.read_bytes() == before


READ_ONLY = r"""
if os.getuid() == 0:                                  # root writes anywhere: become nobody
    os.setgid(65534)
    os.setuid(65534)
for target in sys.argv[1:]:
    try:
        model(4, "new").save(target)
        print("saved", target)
    except OSError as err:
        print(type(err).__name__, err)
"""


@pytest.fixture
def shared_dir():
    """A folder another user can enter (tmp_path's parents are private to this user)."""
    path = Path(tempfile.mkdtemp(prefix="kernelnet-ro-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        p.chmod(0o755) if p.is_dir() else p.chmod(0o644)
    shutil.rmtree(path)


def test_read_only_targets_are_clear_errors_and_change_nothing(shared_dir):
    ro_dir, rw_dir = shared_dir / "ro", shared_dir / "rw"
    ro_dir.mkdir()
    rw_dir.mkdir()
    _model(name="old").save(ro_dir / "m.kn")
    _model(name="old").save(rw_dir / "locked.kn")
    (ro_dir / "m.kn").chmod(0o666)                          # only its folder is read-only
    (rw_dir / "locked.kn").chmod(0o444)
    ro_dir.chmod(0o555)
    rw_dir.chmod(0o777)
    before = {p: p.read_bytes() for p in shared_dir.rglob("*.kn")}
    targets = [ro_dir / "m.kn", ro_dir / "new.kn", rw_dir / "locked.kn"]
    out, err = _child(READ_ONLY, *targets).communicate(timeout=120)
    lines = out.splitlines()
    assert len(lines) == 3, (out, err)
    for line, target in zip(lines[:2], targets):
        assert line.startswith(f"PermissionError [Errno 13] Could not save '{target}': "
                               f"Permission denied. The folder '{ro_dir}' is not writable"), line
    assert lines[2] == (f"PermissionError [Errno 13] Could not save '{targets[2]}': the file "
                        "is read-only. Make it writable (chmod u+w) or save elsewhere."), lines[2]
    assert {p: p.read_bytes() for p in shared_dir.rglob("*.kn")} == before
    assert sorted(p.name for p in shared_dir.rglob("*")) == ["locked.kn", "m.kn", "ro", "rw"]


RACE = r"""
fsync_then(lambda: time.sleep(0.5))       # every racer is past the existence check by then
m = model(4, sys.argv[2])
open(sys.argv[3] + "." + sys.argv[2], "w").close()      # ready
while not os.path.exists(sys.argv[3]):
    time.sleep(0.002)
try:
    m.save(sys.argv[1], overwrite=False)
    print("won")
except FileExistsError as err:
    print("lost", err)
"""


def test_concurrent_saves_without_overwrite_have_exactly_one_winner(tmp_path):
    target, go = tmp_path / "m.kn", tmp_path / "go"
    procs = {f"p{i}": _child(RACE, target, f"p{i}", go) for i in range(4)}
    for name, proc in procs.items():                         # all imported and waiting
        _wait_for(tmp_path / f"go.{name}", proc)
    go.touch()
    results = {name: p.communicate(timeout=120)[0].strip() for name, p in procs.items()}
    winners = [name for name, r in results.items() if r == "won"]
    assert len(winners) == 1, results
    for name, r in results.items():
        if name not in winners:
            assert r == f"lost '{target}' already exists and overwrite=False.", results
    assert load_model(target).name == winners[0]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("go")) == ["m.kn"]
