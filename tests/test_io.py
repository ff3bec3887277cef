"""Atomic writes: unique temporaries per writer, stale ones cleaned, outputs readable by all."""
import os
import stat
import subprocess
import sys

from tsns.io import atomic_path, atomic_write_text


def test_outputs_are_created_0644(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_a_second_writer_never_removes_a_live_writers_temporary(tmp_path):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = tmp_path / f".a.txt.{live.pid}.abc.txt.tmp"
        theirs.write_text("half written by a running process")
        dead = tmp_path / ".a.txt.999999999.def.txt.tmp"
        dead.write_text("left by a killed process")
        other = tmp_path / ".a.txt.json.1.x.tmp"  # not a temporary of a.txt's writers (pid part is not a number)
        other.write_text("")
        with atomic_path(tmp_path / "a.txt") as tmp:
            assert f".a.txt.{os.getpid()}." in tmp.name
            tmp.write_text("mine")
        assert (tmp_path / "a.txt").read_text() == "mine"
        assert theirs.exists() and other.exists() and not dead.exists()
    finally:
        live.kill()
        live.wait()
