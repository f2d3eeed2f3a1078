"""`hydra/launcher=pool`: a sweep's jobs in a few long-lived worker processes, one per core.

Hydra's joblib launcher ships every job to a worker with its whole context, and Hydra composes
every job from scratch, twice: for a grid of small networks that costs more than the learning.
Here each worker is started once and runs job after job; configs are composed once per shape of
job (plastic.launchers.ReusingConfigLoader), for the sweeper's check and for the jobs alike. A
job is still Hydra's own `run_job`: its folder, its logging, its callbacks, its return value.

Ctrl-C or SIGTERM: no job starts any more; the running ones save (SIGTERM is passed on to them)
and the sweep ends as interrupted. Launched again, a sweep keeps what ended and resumes the rest.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from omegaconf import OmegaConf, open_dict

log = logging.getLogger(__name__)


class PoolLauncher(Launcher):
    def __init__(self, n_workers: int | None = None) -> None:
        self.n_workers = n_workers
        self.config = self.task_function = self.hydra_context = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        from plastic.launchers import ReusingConfigLoader

        # the sweeper holds the same context: its check of every job reuses the shapes too
        if not isinstance(hydra_context.config_loader, ReusingConfigLoader):
            hydra_context.config_loader = ReusingConfigLoader(hydra_context.config_loader)
        self.config, self.task_function, self.hydra_context = config, task_function, hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        from plastic.backend import usable_cores

        cores = usable_cores()
        workers = max(1, min(self.n_workers or cores, len(job_overrides)))
        log.info("Launching %d jobs in %d worker processes: %s", len(job_overrides), workers,
                 sweep_dir)  # fmt: skip
        for idx, overrides in enumerate(job_overrides):
            log.info("\t#%d : %s", initial_job_idx + idx, " ".join(filter_overrides(overrides)))
        # fork on Linux: the workers start at once, with what this process has imported
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        context = multiprocessing.get_context(method)
        stop = context.Event()
        # the cores shared out: a worker's BLAS and numba threads would otherwise each take
        # every core, and spin against the other workers
        threads = max(1, cores // workers)
        state = (
            self.hydra_context,
            self.config,
            self.task_function,
            Singleton.get_state(),
            stop,
            threads,
        )
        with ProcessPoolExecutor(
            workers, context, initializer=_start_worker, initargs=state
        ) as pool:
            futures = [
                pool.submit(_execute_job, initial_job_idx + idx, list(overrides))
                for idx, overrides in enumerate(job_overrides)
            ]
            with _SigtermAsInterrupt() as signals:
                try:
                    results = [future.result() for future in futures]
                except KeyboardInterrupt:
                    not_started = _stop(pool, stop, futures, forward=signals.sigterm)
                    raise _interrupted(signals, not_started, len(futures)) from None
        return results


def _interrupted(signals, not_started: int, total: int):
    from plastic.errors import RunInterrupted

    name = "SIGTERM" if signals.sigterm else "Ctrl-C"
    return RunInterrupted(
        f"sweep interrupted by {name}: {not_started} of {total} jobs not started, the running "
        "ones saved; the same command again resumes it",
        name,
    )


def _stop(pool, stop, futures, forward: bool) -> int:
    """No new job; the running ones save and are awaited (SIGTERM is passed on to them: a
    terminal's Ctrl-C reached them already). Returns how many jobs never started."""
    stop.set()
    not_started = sum(future.cancel() for future in futures)
    if forward:
        for process in list(getattr(pool, "_processes", {}).values()):
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
    for future in futures:
        if future.cancelled():
            continue
        try:
            if future.result() is None:  # reached a worker after the stop: not run
                not_started += 1
        except BaseException:  # noqa: BLE001 - a job records its own end in its folder
            pass
    return not_started


class _SigtermAsInterrupt:
    """SIGTERM to the sweep's process is handled as Ctrl-C is: the same orderly stop."""

    def __enter__(self):
        self.sigterm = False
        self.previous = signal.signal(signal.SIGTERM, self._raise)
        return self

    def _raise(self, signum, frame):
        self.sigterm = True
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self.previous)
        return False


# ----------------------------------------------------------------------------- in a worker
class _Worker:
    """What a worker process holds for its whole life (set once by the pool's initializer)."""

    hydra_context = config = task_function = stop = thread_limits = None


def _start_worker(hydra_context, config, task_function, singleton_state, stop, threads) -> None:
    # between jobs a signal ends the worker; a running job installs its own handlers and saves
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    import numba
    from threadpoolctl import threadpool_limits

    _Worker.thread_limits = threadpool_limits(limits=threads)  # for the worker's whole life
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    setup_globals()
    Singleton.set_state(singleton_state)
    _Worker.hydra_context, _Worker.config = hydra_context, config
    _Worker.task_function, _Worker.stop = task_function, stop


def _execute_job(idx: int, overrides: list[str]) -> JobReturn | None:
    if _Worker.stop.is_set():
        return None
    sweep_config = _Worker.hydra_context.config_loader.load_sweep_config(_Worker.config, overrides)
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    result = run_job(  # which makes sweep_config Hydra's config first thing
        hydra_context=_Worker.hydra_context,
        config=sweep_config,
        task_function=_Worker.task_function,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
    # Back to the sweep: the job's config travels as it is; Hydra's own node does not pickle
    # (its schemas are made anew in each process) and no sweeper reads it from a job's return.
    result.hydra_cfg = None
    try:
        pickle.dumps(result.cfg)
    except (pickle.PicklingError, TypeError, AttributeError):
        result.cfg = OmegaConf.create(OmegaConf.to_container(result.cfg))
    return result
