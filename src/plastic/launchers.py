"""plastic beside Hydra's launchers (which do the launching): what it checks before a sweep
queues anything (for SLURM: sbatch, the partition), the SLURM job a run belongs to, and the
hand-over of SLURM's time-limit warning to submitit once the run has saved."""

from __future__ import annotations

import copy
import os
import pickle
import shutil
import signal
import subprocess

from plastic.errors import UserError


def check(launcher) -> None:
    """Refuse, in one line, a launcher's setting that would stop the sweep later (a worker
    count of 0, a negative one where none is meant) and a sweep that SLURM would refuse."""
    target = str(launcher.get("_target_", ""))
    _check_count(
        launcher, "n_workers", "PoolLauncher" in target, "an integer > 0 (null: one a core)"
    )
    # joblib's own convention: -1 every core, -2 all but one ...; 0 means nothing
    _check_count(launcher, "n_jobs", "JoblibLauncher" in target, "an integer other than 0 "
                 "(-1: every core)", negative=True)  # fmt: skip
    if "SlurmLauncher" not in target:
        return
    missing = [c for c in ("sbatch", "srun") if shutil.which(c) is None]
    if missing:
        raise UserError(
            f"hydra/launcher=slurm needs SLURM's {' and '.join(missing)}, not on PATH: run the "
            "sweep on the cluster's login node, or use hydra/launcher=joblib on this machine"
        )
    partition = launcher.get("partition")
    if partition:
        known = partitions()
        if known and partition not in known:
            raise UserError(
                f"hydra.launcher.partition={partition} is not a partition of this cluster; "
                f"choose one of: {', '.join(known)}"
            )


def _check_count(launcher, key: str, applies: bool, allowed: str, negative=False) -> None:
    value = launcher.get(key) if applies else None
    if value is None:
        return
    valid = isinstance(value, int) and not isinstance(value, bool)
    if not valid or value == 0 or (value < 0 and not negative):
        raise UserError(f"hydra.launcher.{key}={value!r} is not allowed: must be {allowed}")


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


# ----------------------------------------------------------------------------- composing jobs
class ReusingConfigLoader:
    """Hydra's config loader, composing each *shape* of job once.

    Hydra composes every job of a sweep from scratch, twice (the sweeper checks that it can,
    the launcher does it again): about 0.1 s a job, which is most of a 380-job grid of small
    networks. Jobs that differ only in values (`model.beta=0.1`, `seed=3`) have the same shape:
    their config is the composed config of that shape with the values set, as Hydra itself sets
    them (`_apply_overrides_to_config`), the job's overrides and its override_dirname recorded
    as Hydra records them. Anything else (a config group, `+key`, `~key`, `key@pkg`, `hydra.*`)
    is part of the shape. tests/test_pool_launcher.py holds the result equal to Hydra's.
    """

    def __init__(self, loader):
        self.loader = loader
        self.composed: dict[tuple, object] = {}  # a shape's config, pickled (see _frozen)

    def __getattr__(self, name):
        if name == "loader":  # unpickling: not set yet
            raise AttributeError(name)
        return getattr(self.loader, name)

    def load_sweep_config(self, master_config, sweep_overrides):
        from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from omegaconf import OmegaConf, open_dict

        parsed = OverridesParser.create().parse_overrides(list(sweep_overrides))
        is_value = [self._is_value(o) for o in parsed]
        values = [o for o, value in zip(parsed, is_value, strict=True) if value]
        shape = [o.input_line for o, value in zip(parsed, is_value, strict=True) if not value]
        key = (
            str(master_config.hydra.job.config_name),
            tuple(master_config.hydra.overrides.hydra),
            tuple(shape),
        )
        if key not in self.composed:
            self.composed[key] = _frozen(self.loader.load_sweep_config(master_config, shape))
        config = _thawed(self.composed[key])
        ConfigLoaderImpl._apply_overrides_to_config(values, config)
        job = config.hydra.job
        app_overrides = [o for o in parsed if not o.is_hydra_override()]
        with open_dict(config.hydra):
            config.hydra.overrides.task = [o.input_line for o in app_overrides]
            job.override_dirname = get_overrides_dirname(
                overrides=app_overrides,
                kv_sep=job.config.override_dirname.kv_sep,
                item_sep=job.config.override_dirname.item_sep,
                exclude_keys=job.config.override_dirname.exclude_keys,
            )
        OmegaConf.copy_cache(from_config=master_config, to_config=config)
        return config

    def _is_value(self, override) -> bool:
        from hydra.core.override_parser.types import OverrideType

        return (
            override.type == OverrideType.CHANGE
            and override.package is None
            and not override.is_sweep_override()
            and not override.is_hydra_override()
            and not self.loader.repository.group_exists(override.key_or_group)
        )


def _frozen(config):
    """A composed config kept to be copied for job after job: pickled, since unpickling a
    copy takes a third of the time of a deep copy (OmegaConf pickles its nodes whole: types,
    flags, parents); as it is where something in it does not pickle."""
    try:
        return pickle.dumps(config)
    except (pickle.PicklingError, TypeError, AttributeError):
        return config


def _thawed(frozen):
    return pickle.loads(frozen) if isinstance(frozen, bytes) else copy.deepcopy(frozen)
