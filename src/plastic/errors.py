"""The ways a run can end other than by completing, each with its exit code."""

import contextlib
import signal
import threading


class PlasticError(Exception):
    """Base: carries the one line shown to the user and the process exit code."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UserError(PlasticError):
    """A mistake in what the user asked for (a config value, a missing file, no GPU)."""

    exit_code = 2


class OutputFailed(PlasticError):
    """The run folder could not be written (no permission, a full disk): what was written
    before stays whole (every file is written atomically)."""

    exit_code = 2


class RuleFault(PlasticError):
    """A rule broke a promise the runner relies on (its features are NaN, say): the run is
    recorded as failed, in one line that names the rule."""

    exit_code = 1


class ConfigRejected(BaseException):
    """The check before a run's folder is made refused it. Hydra turns an Exception raised in a
    callback into a warning and goes on, so a refusal must be a BaseException to stop the run
    before its folder exists; the console script shows the UserError it carries."""

    def __init__(self, error: UserError):
        super().__init__(error.message)
        self.error = error


class TrialFailed(Exception):
    """A job of a search that did not complete (its folder says why): the sweeper (optuna)
    counts it as a failed trial. Not a PlasticError: it is the sweeper's to handle."""


class RunDiverged(PlasticError):
    """The model's state became NaN or infinite; the last good checkpoint was kept."""

    exit_code = 3


class RunInterrupted(PlasticError):
    """Ctrl-C: what was learned is saved and the run can be resumed."""

    exit_code = 130

    def __init__(self, message: str, stopped_by: str = ""):
        super().__init__(message)
        self.stopped_by = stopped_by  # the signal's name, when a signal stopped the run


@contextlib.contextmanager
def handling(signum: int, handler):
    """`handler` for the signal while the block lasts, the previous one restored after it (a
    signal handler can be set only in the main thread: elsewhere, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def sigterm_as_interrupt():
    """SIGTERM aborts as Ctrl-C does (KeyboardInterrupt) for as long as the block lasts: a
    run outside its training loop (which stops at the next block and saves) says interrupted
    instead of nothing at all; a report or an evaluation ends in one line, exit 130."""
    return handling(signal.SIGTERM, _interrupt)
