"""Atomic writes: a reader never sees half a file, a failed write leaves the old file whole."""

import numpy as np
import pytest

from plastic.artifacts import (
    atomic_write,
    read_npz,
    remove_orphaned_temporaries,
    write_csv,
    write_json,
    write_npz,
)


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "summary.json"
    write_json(target, {"status": "completed"})

    def broken(tmp):
        tmp.write_text('{"status": "half')
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text().strip().endswith("}")
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary left


def test_npz_and_csv_round_trip(tmp_path):
    write_npz(tmp_path / "w.npz", {"feedforward": np.arange(6.0).reshape(2, 3)})
    np.testing.assert_array_equal(
        read_npz(tmp_path / "w.npz")["feedforward"], np.arange(6.0).reshape(2, 3)
    )
    write_csv(tmp_path / "m.csv", ["step", "x"], [{"step": 0, "x": 0.5}, {"step": 10}])
    assert (tmp_path / "m.csv").read_text() == "step,x\n0,0.5\n10,\n"


def test_a_killed_writers_temporary_file_is_swept_and_a_live_ones_kept(tmp_path):
    import os
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    orphan = tmp_path / f".checkpoint.npz.{int(gone.stdout)}.tmp"
    live = tmp_path / f".summary.json.{os.getpid()}.tmp"  # a writer at work
    other = tmp_path / ".notes.tmp"  # not one of plastic's
    for path in (orphan, live, other):
        path.write_bytes(b"half")
    (tmp_path / "checkpoint.npz").write_bytes(b"whole")
    assert remove_orphaned_temporaries(tmp_path) == [orphan]
    assert not orphan.exists() and live.exists() and other.exists()
    assert (tmp_path / "checkpoint.npz").read_bytes() == b"whole"
