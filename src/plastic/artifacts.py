"""The run folder: every file is written to a temporary name and renamed into place, so a reader
(or a crash) never sees half a file, and a finished file is only ever replaced whole."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CHECKPOINT = "checkpoint.npz"
WEIGHTS = "weights.npz"
METRICS = "metrics.csv"
SUMMARY = "summary.json"


def atomic_write(path: Path, write: Callable[[Path], None], durable: bool = True) -> Path:
    """Call write(tmp) on a temporary file beside `path`, flush it to disk (unless not
    `durable`: a file rewritten soon, which kill -9 cannot tear either), rename it to `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def remove_orphaned_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files (`.NAME.PID.tmp`) that a writer killed mid-write (kill -9, a
    power cut) left in `folder`: those whose process is gone. The finished files they were to
    replace are whole. Returns what was deleted."""
    removed = []
    for tmp in Path(folder).glob(".*.tmp"):
        pid = tmp.name[: -len(".tmp")].rpartition(".")[2]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def write_bytes(path: Path, data: bytes, durable: bool = True) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data), durable)


def write_text(path: Path, text: str, durable: bool = True) -> Path:
    return write_bytes(path, text.encode(), durable)


def write_json(path: Path, obj: Any) -> Path:
    """Strict JSON (RFC 8259): a NaN or an infinity is written as null, never as NaN."""
    text = json.dumps(_finite(obj), indent=2, default=_jsonable, allow_nan=False)
    return write_text(path, text + "\n")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(value) for value in obj]
    return obj


def write_npz(path: Path, arrays: dict[str, Any]) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # straight to the file: no second copy in memory
            np.savez(f, **arrays)

    return atomic_write(path, write)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def write_csv(
    path: Path, columns: list[str], rows: list[dict[str, float]], durable: bool = True
) -> Path:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _csv_value(row.get(key)) for key in columns})
    return write_text(path, text.getvalue(), durable)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return repr(value) if isinstance(value, float) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@contextlib.contextmanager
def whole_folder(out: Path, what: str):
    """Make the folder `out` whole or not at all: the block writes into a temporary folder
    beside it (yielded), renamed to `out` when the block ends; on any error nothing is left.
    `out` must be new or an empty folder (UserError otherwise: `what` names the command)."""
    from plastic.errors import UserError

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(
            f"{what} {str(out)!r}: it exists and is not an empty folder; choose a new one"
        )
    building = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        building.mkdir(parents=True)
    except OSError as error:
        raise UserError(f"{what} {str(out)!r} cannot be made ({error.strerror or error})") from None
    try:
        yield building
        if out.exists():
            out.rmdir()  # empty, as checked: the finished folder takes its place
        os.replace(building, out)
    finally:
        shutil.rmtree(building, ignore_errors=True)
