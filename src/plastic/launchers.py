"""plastic beside Hydra's launchers (which do the launching): what it checks before a sweep
queues anything (for SLURM: sbatch, the partition), the SLURM job a run belongs to, and the
hand-over of SLURM's time-limit warning to submitit once the run has saved."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

from plastic.errors import UserError


def check(launcher) -> None:
    """Refuse, in one line, a sweep that SLURM would refuse; other launchers need nothing."""
    if "SlurmLauncher" not in str(launcher.get("_target_", "")):
        return
    if shutil.which("sbatch") is None:
        raise UserError(
            "hydra/launcher=slurm needs SLURM's sbatch, which is not on PATH: run the sweep on "
            "the cluster's login node, or use hydra/launcher=joblib on this machine"
        )
    partition = launcher.get("partition")
    if partition:
        known = partitions()
        if known and partition not in known:
            raise UserError(
                f"hydra.launcher.partition={partition} is not a partition of this cluster; "
                f"choose one of: {', '.join(known)}"
            )


def partitions() -> list[str]:
    """The cluster's partitions, as sinfo names them (empty when sinfo cannot tell)."""
    lines = _slurm_lines("sinfo", "--noheader", "--format=%P")
    return sorted({line.rstrip("*") for line in lines})


def _slurm_lines(*command: str) -> list[str]:
    """The non-empty lines a SLURM command prints; none when it cannot be run or fails."""
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def slurm_job_id() -> str | None:
    """The SLURM job this process runs in (ARRAY_TASK as sacct names it), else None."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def slurm_state(job_id: str) -> str | None:
    """sacct's state of a job (COMPLETED, CANCELLED by 0, TIMEOUT, ...), None when unknown."""
    states = _slurm_lines(
        "sacct", "--noheader", "--allocations", "--parsable2", "--format=State", "-j", job_id
    )
    return states[-1] if states else None


def pass_on_time_limit_warning() -> None:
    """SLURM's SIGUSR2 stopped the run, which saved everything; the signal now goes to the
    handler that was there before plastic's (submitit's, which requeues the job and exits).
    Without one (a run outside submitit) nothing more happens: the run is interrupted."""
    if not hasattr(signal, "SIGUSR2"):
        return
    handler = signal.getsignal(signal.SIGUSR2)
    if callable(handler):
        signal.raise_signal(signal.SIGUSR2)
