"""The console script: `plastic run [overrides] [-m]`, `plastic list`, `plastic --version`.

`run` hands its arguments to the Hydra app unchanged (so --cfg, --help, -m, hydra.run.dir=...,
--config-dir keep working) and turns every user mistake into one line and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
from pathlib import Path

from plastic.settings import HOW_IT_SHOWS

USAGE = """\
usage: plastic run [override ...] [-m] [--cfg job] [--help]   train one rule (Hydra app)
       plastic report FOLDER [--sort METRIC] [--replicates KEYS]  what a sweep concludes
       plastic report --compare RUN RUN ... [--out FOLDER]   runs from anywhere, side by side
       plastic eval RUN [override ...] [--out FOLDER]        a finished run measured again
       plastic list [GROUP=NAME | --check]                     choices; one's settings; plugins
       plastic --version

  plastic run experiment=bars_oja           reproduce the bar-learning tutorial
  plastic run -m seed=0,1,2 experiment=bars_oja
  plastic run resume=outputs/DATE/TIME_oja-bars   continue an interrupted run
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    if argv[0] in ("--version", "-V", "version"):
        from plastic import __version__

        print(f"plastic {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    try:
        if command == "list":
            return list_command(rest)
        if command == "run":
            return run_command(rest)
        from plastic.errors import sigterm_as_interrupt

        # SIGTERM stops a report or an evaluation as Ctrl-C does (a run handles it itself,
        # and saves): one line, exit 130, every file whole and no half-made folder
        with sigterm_as_interrupt():
            if command == "report":
                return report_command(rest)
            if command == "eval":
                return eval_command(rest)
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    _error(
        f"unknown command {command!r}; the commands are: run, report, eval, list "
        "(see plastic --help)"
    )
    return 2


class _WithoutSbatchErrors(io.TextIOBase):
    """stderr, less the lines that submitit prints when sbatch refuses a sweep: plastic's
    own one line (user_message) says the same, with what to check."""

    def __init__(self, stream):
        self.stream, self.dropped = stream, False

    def write(self, text: str) -> int:
        lines = [line for line in text.splitlines() if line.strip()]
        if lines and all(line.startswith("sbatch: ") for line in lines):
            self.dropped = True
        elif not (self.dropped and text == "\n"):  # print's own newline after them
            self.dropped = False
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def _error(message: str) -> None:
    print(f"plastic: error: {message}", file=sys.stderr)


# ----------------------------------------------------------------------------- run
def run_command(args: list[str]) -> int:
    show_traces = bool(os.environ.get("HYDRA_FULL_ERROR"))
    from plastic import app

    with _hydra_reraising(), app.collecting_outcomes() as outcomes:
        return _run_collecting(args, app, outcomes, show_traces)


@contextlib.contextmanager
def _hydra_reraising():
    """Hydra re-raises an error instead of printing its own report, so that it reaches the
    console script (its variable, HYDRA_FULL_ERROR, set for the command's duration)."""
    before = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = before


def _run_collecting(args: list[str], app, outcomes, show_traces: bool) -> int:
    from plastic.errors import ConfigRejected, PlasticError, RunInterrupted

    warm = None
    try:
        _refuse_unknown_flags(args)
        args = expand_resume(args)
        from plastic import tracking

        # the loggers' libraries load in their own process while this one starts up
        multirun = any(a in ("-m", "--multirun") for a in args)
        warm = None if multirun else tracking.prewarm(args)
        from plastic.config import register_configs

        app.register_resolvers()
        for line in register_configs(config_dirs(args)):  # a broken plugin is never silent
            if line.split(" ", 1)[0] not in args:  # chosen, it is the run's own one line
                print(f"plastic: warning: {line} (plastic list --check)", file=sys.stderr)
        if "--help" in args or "-h" in args:
            return _help_without_schemas(app, args)
        with (
            contextlib.redirect_stderr(_WithoutSbatchErrors(sys.stderr)),
            _noting_ctrl_c() as ctrl_c,
        ):
            app.hydra_main(args, warm)
    except PlasticError as error:
        if outcomes.sweeps and isinstance(error, RunInterrupted):  # how each job ended
            _report_sweep(outcomes.sweeps[-1], interrupted=True)
        return _report(error, show_traces)
    except Exception as error:
        stopped = _stopped_search(error)
        if stopped is not None and not show_traces:
            print(f"plastic: {stopped}", file=sys.stderr)
            return 1
        message = user_message(error)
        if message is None or show_traces:
            raise  # not a user mistake: a bug, shown in full
        _error(message)
        return 2
    except ConfigRejected as error:  # refused before its folder was made
        return _report(error.error, show_traces)
    finally:
        if warm is not None:
            warm.close()  # a run that was refused, or chose other loggers
    if outcomes.sweeps:  # its jobs may have run elsewhere: their summaries say how they ended
        # Ctrl-C reaches the sweep's workers too: the jobs may all have saved and ended before
        # the sweep's own process saw it; the sweep was stopped all the same
        code = _report_sweep(outcomes.sweeps[-1], interrupted=bool(ctrl_c))
        return 130 if ctrl_c and code else code
    # Runs that ended early (diverged, interrupted, a bad dataset) wrote their summary; say why.
    for run_dir, error in outcomes.ended:
        if str(run_dir) not in error.message:
            error.message = f"{error.message} ({run_dir})"
    codes = [_report(error, show_traces) for _, error in outcomes.ended]
    return max(codes, default=0)


@contextlib.contextmanager
def _noting_ctrl_c():
    """Ctrl-C (SIGINT) as always, and remembered: the list it yields is not empty after one."""
    import signal

    from plastic.errors import handling

    came: list[int] = []

    def note(signum, frame):
        came.append(signum)
        signal.default_int_handler(signum, frame)

    with handling(signal.SIGINT, note):
        yield came


def _help_without_schemas(app, args: list[str]) -> int:
    """Hydra's help, less the schema groups (plastic's typing of the config, not choices)."""
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        with contextlib.suppress(SystemExit):
            app.hydra_main(args)
    shown = [line for line in text.getvalue().splitlines() if not line.startswith("schema/")]
    print("\n".join(shown))
    return 0


def _refuse_unknown_flags(args: list[str]) -> None:
    """A flag that neither plastic nor Hydra knows is one line naming it and the known ones
    (Hydra's parser would print its whole usage)."""
    from hydra._internal.utils import get_args_parser

    from plastic.errors import UserError

    parser = get_args_parser()
    known = sorted({o for action in parser._actions for o in action.option_strings})

    def refuse(message: str):
        raise UserError(f"plastic run: {message}; the flags are: {', '.join(known)}")

    parser.error = refuse  # argparse would print its usage and exit
    _, unknown = parser.parse_known_args(args)
    flags = [a for a in unknown if a.startswith("-")]
    if flags:
        refuse(f"unknown flag {flags[0]}")


def _stopped_search(error: Exception) -> str | None:
    """One line for a search (optuna) that its failed trials stopped, else None."""
    from plastic.errors import TrialFailed

    if isinstance(error, TrialFailed):
        return (
            f"the search stopped at a failed trial ({error}); hydra.sweeper.max_failure_rate="
            "1.0 lets a search go on past failed trials"
        )
    if isinstance(error, ValueError) and "No trials are completed yet" in str(error):
        return "every trial of the search failed; plastic report on its folder says why"
    return None


def config_dirs(args: list[str]) -> tuple[Path, ...]:
    """The folders given with --config-dir / -cd (Hydra's own flag)."""
    found = []
    for i, arg in enumerate(args):
        if arg in ("--config-dir", "-cd") and i + 1 < len(args):
            found.append(Path(args[i + 1]).expanduser())
        elif arg.startswith("--config-dir="):
            found.append(Path(arg.split("=", 1)[1]).expanduser())
    return tuple(found)


def _report_sweep(sweep_dir: Path, interrupted: bool = False) -> int:
    """One line per job that did not complete; exit 1 when there is any, else 0. A tracked
    sweep's parent run ends with the sweep's status."""
    from plastic.report import load_run
    from plastic.tracking import end_sweep

    ended = completed = 0
    # job folders (submitit keeps its own files in .submitit/)
    jobs = sorted(
        (p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    for job in jobs:
        if not (job / "summary.json").exists():
            continue
        row = load_run(job)
        completed += row["status"] == "completed"
        if row["status"] != "completed":
            ended += 1
            print(
                f"plastic: job {job.name} {row['status']}: {row['reason']} ({job})", file=sys.stderr
            )
    failed = ended and not interrupted
    end_sweep(sweep_dir, "KILLED" if interrupted else "FAILED" if failed else "FINISHED")
    if ended:
        print(
            f"plastic: {ended} of {len(jobs)} jobs did not complete; the others did "
            f"(plastic report {sweep_dir})",
            file=sys.stderr,
        )
    elif completed:
        print(f"{completed} jobs completed in {sweep_dir}: compare them with plastic report "
              f"{sweep_dir}")  # fmt: skip
    return 1 if ended else 0


def _report(error, show_traces: bool) -> int:
    if show_traces and error.__traceback__ is not None and error.exit_code == 1:
        raise error
    print(f"plastic: {'error: ' if error.exit_code == 2 else ''}{error.message}", file=sys.stderr)
    return error.exit_code


def expand_resume(args: list[str]) -> list[str]:
    """`resume=DIR` becomes DIR's own overrides, then the new ones, then hydra.run.dir=DIR."""
    from plastic.errors import UserError

    resumes = [a for a in args if a.startswith("resume=")]
    if not resumes:
        return args
    if any(a in ("-m", "--multirun") for a in args):
        raise UserError("resume=DIR continues one run; it cannot be combined with -m")
    folder = Path(resumes[-1].split("=", 1)[1].strip("'\"")).expanduser().resolve()
    overrides_file = folder / ".hydra" / "overrides.yaml"
    if not (folder / "checkpoint.npz").exists() or not overrides_file.exists():
        raise UserError(
            f"resume={str(folder)!r} is not a plastic run folder with a checkpoint "
            "(it needs checkpoint.npz and .hydra/overrides.yaml; a run stopped before its "
            "first checkpoint has nothing to resume: start it again)"
        )
    from plastic.app import run_status

    status = run_status(folder)
    if status == "completed":
        raise UserError(f"resume={str(folder)!r}: that run is already completed; nothing to resume")
    if status == "unreadable":
        raise UserError(
            f"resume={str(folder)!r}: its summary.json cannot be read, so plastic cannot tell "
            "whether the run completed; the run folder is left as it is"
        )
    check_checkpoint(folder / "checkpoint.npz")
    new = [a for a in args if not a.startswith("resume=")]
    new_keys = {_override_key(a) for a in new if not a.startswith("-")}
    changing = sorted(k for k in new_keys if not k.startswith(RESUME_MAY_CHANGE))
    if changing:
        raise UserError(
            f"resume={str(folder)!r} keeps the run's own config: {', '.join(changing)} would "
            "change what was learned; a resume accepts only "
            + ", ".join(f"{k}*" if k.endswith(".") else k for k in RESUME_MAY_CHANGE)
        )
    original = [o for o in _read_overrides(overrides_file) if _override_key(o) not in new_keys]
    quoted = str(folder).replace("\\", "\\\\").replace("'", "\\'")
    return [*original, *new, f"hydra.run.dir='{quoted}'", f"resume='{quoted}'"]


# what a resume may change: how long it runs and how it shows, never what it learns
RESUME_MAY_CHANGE = ("trainer.epochs", "trainer.max_steps", *HOW_IT_SHOWS, "probe.", "verdict.")
CHECKPOINT_KEYS = ("trainer/step", "trainer/seconds", "record/step", "record/frames")


def check_checkpoint(path: Path) -> None:
    """Refuse, in one line, a checkpoint that is empty, truncated, corrupt or lacks the keys
    a resume reads; nothing is written."""
    from plastic.artifacts import read_npz
    from plastic.errors import UserError

    try:
        state = read_npz(path)
    except Exception as error:
        raise UserError(
            f"resume: {str(path)!r} is damaged and cannot be read ({type(error).__name__}: "
            f"{' '.join(str(error).split()) or 'empty'}); the run folder is left as it is"
        ) from None
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing or not any(k.startswith("model/") for k in state):
        raise UserError(
            f"resume: {str(path)!r} is not a plastic checkpoint (it lacks "
            f"{', '.join(missing) or 'the model state'}); the run folder is left as it is"
        )


def _read_overrides(path: Path) -> list[str]:
    from omegaconf import ListConfig, OmegaConf

    from plastic.errors import UserError

    try:
        overrides = OmegaConf.load(path)
    except Exception as error:
        overrides = error
    if not isinstance(overrides, ListConfig) or not all(isinstance(o, str) for o in overrides):
        raise UserError(
            f"resume: {str(path)!r} cannot be read as the run's overrides (a YAML list of "
            "strings); the run folder is left as it is"
        )
    return [o for o in overrides if _override_key(o) != "resume"]


def _override_key(override: str) -> str:
    from plastic.report import split_override

    return split_override(override)[0]


def user_message(error: BaseException) -> str | None:
    """One line for a mistake in what the user asked for; None for anything else (a bug)."""
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )
    from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

    if type(error).__name__ == "FailedJobError" and "sbatch: error" in str(error):
        # submitit's sbatch was refused: a job array is submitted whole, so nothing is queued
        reasons = [line for line in str(error).splitlines() if "sbatch: error" in line]
        return (
            f"hydra/launcher=slurm: sbatch refused the sweep, nothing was queued "
            f"({reasons[0].removeprefix('sbatch: error: ').strip()}); check "
            "hydra.launcher.partition (sinfo lists them), timeout_min, mem_gb, gpus_per_node "
            "and additional_parameters"
        )
    if type(error).__name__ == "FailedSubmissionError":  # sbatch answered, but not as SLURM
        said = " ".join(str(error).split('"')[1:2]).strip()[:120] if '"' in str(error) else ""
        return (
            f"hydra/launcher=slurm: sbatch's answer cannot be read as a job id ({said!r}); "
            "check that the sbatch on PATH is SLURM's (which sbatch)"
        )
    if isinstance(error, ValueError) and _raised_in_hydra(error):  # Hydra's own usage checks
        return _first_line(str(error))
    if isinstance(error, OSError) and error.filename:  # the run folder cannot be made
        return f"cannot write {error.filename!r} ({error.strerror or error}); choose another folder"
    if isinstance(error, MissingConfigException):
        found = re.search(r"Could not (?:find|load) '([^']+)'", str(error))
        wanted = found.group(1) if found else str(error).splitlines()[0]
        group, _, option = wanted.rpartition("/")
        if group.startswith("experiment"):  # recipes nest (smoke/oja): name them in full
            from plastic.listing import recipes

            names = sorted(name for name, _, _ in recipes())
            asked = wanted.removeprefix("experiment/")
            return f"experiment={asked} is not available; choose one of: " + ", ".join(names)
        if group and error.options is not None:
            return f"{group}={option} is not available; choose one of: " + ", ".join(error.options)
        return _first_line(str(error))
    if isinstance(error, OverrideParseException):
        return f"cannot read the overrides: {_first_line(str(error))}"
    if isinstance(error, ConfigCompositionException | OmegaConfBaseException):
        cause = error if isinstance(error, OmegaConfBaseException) else error.__cause__
        if isinstance(cause, ConfigKeyError | AttributeError) and getattr(cause, "key", None):
            return _unknown_key(cause)
        if isinstance(cause, ValidationError):
            from plastic.config import invalid_value

            return invalid_value(cause.full_key or cause.key, cause.value, cause.msg)
        text = _first_line(str(error))
        return f"{text} ({_first_line(str(cause))})" if cause is not None else text
    return None


def _raised_in_hydra(error: BaseException) -> bool:
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and f"{os.sep}hydra{os.sep}" in frames[-1].filename


def _unknown_key(cause) -> str:
    from plastic.config import allowed_keys

    full_key = cause.full_key or cause.key
    section, _, name = full_key.rpartition(".")
    keys = allowed_keys(cause.object_type) or _rule_keys(cause, full_key)
    if name in keys:  # the rule has it, but the model's YAML does not list it
        return (
            f"{full_key} is a setting of the rule, but the chosen {section} config does not "
            f"list it: add it as +{full_key}=VALUE, or list it in that config's YAML"
        )
    allowed = f"; the keys of {section or 'the config'} are: {', '.join(keys)}" if keys else ""
    return f"{full_key} is not a setting{allowed}"


def _rule_keys(cause, full_key: str) -> list[str]:
    """The settings of the rule a model section names by _target_ (they are typed only once
    the config is composed), for the keys of model.* or model.<section>.*."""
    from plastic import registry
    from plastic.config import allowed_keys, schema_at

    node = getattr(cause, "parent_node", None)
    if not full_key.startswith("model.") or node is None:
        return []
    root = node._get_root() if hasattr(node, "_get_root") else node
    try:
        schema = registry.rule_class(root.model).Config
    except Exception:
        return []
    # model.optimizer.x: the optimizer's keys
    return allowed_keys(schema_at(schema, full_key.partition(".")[2]))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


# ----------------------------------------------------------------------------- report
def report_command(args: list[str]) -> int:
    from plastic.errors import UserError

    parser = _ArgumentParser(
        prog="plastic report",
        description="What a sweep concludes (or a run shows): tables, figures and index.html.",
    )
    parser.add_argument(
        "folder",
        nargs="?",
        help="a multirun folder (outputs/multirun/...) or a run folder",
    )
    parser.add_argument(
        "--sort",
        metavar="METRIC",
        help="the metric to sort by and judge on "
        "(default: the recipe's verdict metric, else the first)",
    )
    parser.add_argument("--ascending", action="store_true", help="smallest first")
    parser.add_argument(
        "--replicates",
        metavar="KEYS",
        default="seed",
        help="comma-separated keys that are replicates, not conditions, in a sweep or "
        "among --compare's runs (default: seed)",
    )
    parser.add_argument(
        "--compare", nargs="+", metavar="RUN", type=Path, help="run folders from anywhere"
    )
    parser.add_argument(
        "--out",
        metavar="FOLDER",
        help="with --compare: where the page goes (a new folder; "
        "default outputs/compare/DATE_TIME)",
    )
    try:
        options = parser.parse_args(args)
    except UserError as error:
        _error(error.message)
        return 2
    from plastic.report import print_table, report

    folder = options.out if options.compare else options.folder
    out = Path(options.out) if options.out and not options.compare else None
    if options.compare and folder is None:
        folder = _new_compare_folder()
    if folder is None:
        _error("plastic report needs a FOLDER (or --compare RUN RUN ...)")
        return 2
    replicates = tuple(k.strip() for k in options.replicates.split(",") if k.strip())
    try:
        print_table(
            report(Path(folder), options.sort, options.ascending, options.compare, replicates, out)
        )
    except UserError as error:
        _error(error.message)
        return 2
    except OSError as error:  # a read-only folder, a full disk: what was written is whole
        where = error.filename or folder
        _error(
            f"plastic report cannot write {str(where)!r} ({error.strerror or error}); the "
            "files already there are whole (--out FOLDER writes the report elsewhere)"
        )
        return 2
    return 0


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, whose mistakes are one line (UserError) that names the flag and the allowed
    ones, instead of its usage and exit."""

    def error(self, message):
        from plastic.errors import UserError

        flags = sorted(o for a in self._actions for o in a.option_strings)
        raise UserError(f"{self.prog}: {message}; the flags are: {', '.join(flags)}")


def _new_compare_folder() -> Path:
    """outputs/compare/DATE_TIME, or with _2, _3 ... when taken (not made here: the report
    makes it whole, or not at all)."""
    import datetime as dt

    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    base = Path("outputs") / "compare" / stamp
    for attempt in range(1, 10_000):
        candidate = base if attempt == 1 else base.with_name(f"{stamp}_{attempt}")
        if not candidate.exists():
            return candidate
    raise RuntimeError("no free folder for the comparison")


# ----------------------------------------------------------------------------- eval
def eval_command(args: list[str]) -> int:
    """`plastic eval RUN [overrides] [--out FOLDER] [--steps N]`: a finished run's weights,
    measured again into a folder of their own."""
    from plastic.errors import UserError
    from plastic.reevaluate import evaluate, parse, print_summary

    try:
        run, overrides, out, steps = parse(args)
        print_summary(evaluate(run, overrides, out, steps))
    except UserError as error:
        _error(error.message)
        return 2
    except OSError as error:
        _error(f"plastic eval cannot write {error.filename!r} ({error.strerror or error})")
        return 2
    return 0


# ----------------------------------------------------------------------------- list
def list_command(args: list[str] = ()) -> int:
    """`plastic list`: every choice of every group; `plastic list GROUP=NAME`: its settings."""
    from plastic import listing
    from plastic.errors import UserError

    try:
        if args == ["--check"]:
            return listing.check_plugins()
        if args:
            listing.print_settings(args[0])
        else:
            listing.print_choices()
    except UserError as error:
        _error(error.message)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
