"""FORCE learning (Sussillo & Abbott 2009): a chaotic rate network whose linear readout is
trained by recursive least squares while it is fed back into the network.

    x' = -x + g J tanh(x) + u z  (+ A cos(w t) u)       z = w^T tanh(x)
    J_ij ~ N(0, 1/N), u ~ U(-1, 1), x(0) ~ U(-0.5, 0.5), w ~ U(-1/sqrt(N), 1/sqrt(N))

RLS on the readout, with r = tanh(x) and target f(t), P(0) = I / alpha:

    z = w^T r;  e = f(t) - z;  q = P r;  c = lr / (1 + q^T r)
    P <- P - c q q^T;  w <- w + c e q

Integrators: `reference`, the seed's: dt = 1, r held fixed over a step, which relaxes x exactly:
x <- x e^-dt + (1 - e^-dt) (g J r + u w_new^T r); `euler`, the paper's: Euler steps of dt,
RLS every `rls_every` steps. Without learning (`learn: false`) the network runs its true
continuous dynamics (scipy's odeint along the trajectory), for the chaos and drive studies.
Learning stops at `train_until`; the network then runs on its own (the test phase).

Without learning a twin trajectory starts SEPARATION away and is pulled back to that distance
after each time unit (Benettin's method): the mean log growth per unit of time over the second
half of the run estimates the largest Lyapunov exponent, > 0 for chaos, < 0 where the dynamics
decay or follow the drive (the seed's claim that a strong drive suppresses chaos).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from plastic.config import setting
from plastic.errors import UserError
from plastic.rule import Analysis, DynamicalSystem, Layout
from plastic.state import array, named_rows, number, rows
from plastic.views import Traces

TARGETS = ("cosine", "sines", "triangle", "square", "file")
SEPARATION = 1e-8  # of the twin trajectory: small enough to stay linear over one time unit


@dataclass
class TargetConfig:
    kind: str = setting("cosine", choices=TARGETS)
    period: float = setting(50.0, gt=0, help="time units per cycle")
    amplitude: float = setting(1.0, gt=0)
    path: str | None = setting(None, help="kind=file: a .npy or .csv of one value per step")


@dataclass
class Config:
    n_units: int = setting(1000, gt=0)
    g: float = setting(1.5, ge=0, help="gain of the recurrent weights (1.5: chaotic)")
    feedback: bool = True
    input_amplitude: float = setting(0.0, ge=0, help="A of the drive A cos(w t) u")
    input_frequency: float = setting(1.0, ge=0, help="w of the drive")
    integrator: str = setting("reference", choices=("reference", "euler"))
    dt: float = setting(1.0, gt=0)
    rls_every: int = setting(1, gt=0, help="steps between RLS updates")
    alpha: float = setting(1.0, gt=0, help="P(0) = I / alpha")
    learning_rate: float = setting(1.0, gt=0, help="lr of c = lr / (1 + q^T r)")
    learn: bool = True
    train_until: float = setting(300.0, ge=0, help="learning stops at this time")
    target: TargetConfig = field(default_factory=TargetConfig)


def target_values(cfg: TargetConfig, times: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """f at the given times (steps index a file's values, one per step, cyclically)."""
    omega = 2 * math.pi / cfg.period
    if cfg.kind == "cosine":
        return cfg.amplitude * np.cos(omega * times)
    if cfg.kind == "sines":  # the paper's periodic target
        return (
            cfg.amplitude
            * (
                np.sin(omega * times)
                + 0.5 * np.sin(2 * omega * times)
                + 0.167 * np.sin(3 * omega * times)
                + 0.25 * np.sin(4 * omega * times)
            )
            / 1.5
        )
    if cfg.kind == "triangle":
        return cfg.amplitude * (2 / math.pi) * np.arcsin(np.sin(omega * times))
    if cfg.kind == "square":
        return cfg.amplitude * np.sign(np.sin(omega * times))
    values = read_target_file(cfg.path)
    return values[steps.astype(np.int64) % len(values)]


def read_target_file(path: str | None) -> np.ndarray:
    how = "a .npy or .csv file holding one number per time step (one column)"
    if not path:
        raise UserError(f"model.target.kind=file needs model.target.path: {how}")
    from plastic.datasets import regular_file

    file = regular_file(Path(path).expanduser(), "model.target.path")
    try:
        if file.suffix == ".npy":
            values = np.load(file, allow_pickle=False)
        else:
            with warnings.catch_warnings():  # an empty file is reported below, in one line
                warnings.simplefilter("ignore")
                values = np.loadtxt(file, delimiter=",", ndmin=1)
        values = np.asarray(values, dtype=np.float64)  # strings and objects fail here too
    except Exception as error:
        raise UserError(
            f"model.target.path={path!r} cannot be read as {how} ({' '.join(str(error).split())})"
        ) from None
    if values.ndim != 1 or len(values) == 0 or not np.isfinite(values).all():
        raise UserError(
            f"model.target.path={path!r} is not {how} of finite numbers "
            f"(it holds an array of shape {values.shape})"
        )
    return values


@dataclass
class State:
    x: Any = array()  # the units' currents
    readout: Any = array()  # w
    inverse_correlation: Any = array()  # P
    step: Any = number()
    series: Any = named_rows("trace_")  # z, f, dw, units (and x, without learning), per step
    twin: Any = array(learned=False)  # without learning: the twin (the Lyapunov exponent)
    log_growth: Any = rows()  # without learning: (start time, span, log growth) per stretch


class Force(DynamicalSystem):
    """FORCE learning: a chaotic rate network whose fed-back readout is trained by RLS."""

    Config = Config
    State = State
    # a block in one compiled call, P read and written once a step, rows shared among cores
    kernels = {"learn_steps": {"cpu": "plastic.kernels.force_cpu:learn_steps"}}
    kernel_tolerance = 1e-9
    metric_names = ("train_rmse", "test_rmse", "dw_norm", "readout_norm")
    figure_names = ("final_readout_norm", "activity_variance", "lyapunov_exponent")
    metric_goals = {"train_rmse": "min", "test_rmse": "min"}

    @classmethod
    def check(cls, cfg, data=None) -> None:
        if cfg.target.kind == "file":
            read_target_file(cfg.target.path)

    @classmethod
    def state_bytes(cls, cfg, n_inputs, itemsize):
        return 2 * cfg.n_units**2 * itemsize  # J and P, N x N each

    def __init__(self, cfg, backend, n_inputs, rng):
        super().__init__(cfg, backend, n_inputs, rng)
        self.check(self.cfg)
        n, xp = cfg.n_units, backend.xp
        # drawn on the host, in this order, so that every device starts from the same network
        self.J = backend.asarray(rng.normal(0.0, 1.0 / math.sqrt(n), (n, n)))
        self.u = backend.asarray(rng.uniform(-1.0, 1.0, n))
        self.x = backend.asarray(rng.uniform(-0.5, 0.5, n))
        self.readout = backend.asarray(rng.uniform(-1 / math.sqrt(n), 1 / math.sqrt(n), n))
        self.inverse_correlation = xp.eye(n, dtype=backend.dtype) / cfg.alpha
        self.step = 0
        self.series = {"z": [], "f": [], "dw": [], "units": []}  # per step, on the host
        self.twin = self.log_growth = None  # the Lyapunov study's, without learning
        if not cfg.learn:  # drawn last: a run that learns draws exactly as before
            direction = rng.normal(size=n)
            self.twin = self.x + backend.asarray(SEPARATION * direction / np.linalg.norm(direction))
            self.log_growth = []  # (start time, span, log growth of the separation) per stretch
            self.series["x"] = []  # every unit's current, per step

    # ------------------------------------------------------------------ one step
    def learn(self, block):
        if not self.cfg.learn:
            return self._run_continuous(len(block))
        self.learn_steps(len(block))

    def learn_steps(self, n_steps: int) -> None:
        """The reference: the step as the equations read it, in the array namespace. Nothing
        comes back to the host inside the block (no float() of a device value): the targets
        are computed beforehand and the traces gathered on the device."""
        xp, cfg, backend = self.xp, self.cfg, self.backend
        decay = math.exp(-cfg.dt)
        targets, learning, drive = self.schedule(n_steps)
        width = min(5, cfg.n_units)
        z_out, dw_out = xp.zeros(n_steps, backend.dtype), xp.zeros(n_steps, backend.dtype)
        units = xp.zeros((n_steps, width), backend.dtype)
        for s in range(n_steps):
            r = xp.tanh(self.x)
            z = self.readout @ r
            z_out[s] = z
            if learning[s]:
                dw_out[s] = self._rls(r, float(targets[s]) - z)
            total = cfg.g * (self.J @ r)
            if cfg.feedback:  # reference: the updated readout; euler: the z of this step
                total += self.u * (self.readout @ r if cfg.integrator == "reference" else z)
            if drive[s]:
                total += float(drive[s]) * self.u
            if cfg.integrator == "reference":
                self.x = self.x * decay + (1 - decay) * total
            else:
                self.x = self.x + cfg.dt * (total - self.x)
            units[s] = self.x[:width]
        self.extend(targets, backend.to_host(z_out), backend.to_host(dw_out), units)

    def schedule(self, n_steps: int):
        """For the next steps: the targets, whether RLS runs, and the drive A cos(w t)."""
        cfg = self.cfg
        steps = self.step + np.arange(n_steps)
        times = steps * cfg.dt
        targets = target_values(cfg.target, times, steps)
        learning = (times < cfg.train_until) & (steps % cfg.rls_every == 0)
        drive = np.zeros(n_steps)
        if cfg.input_amplitude:
            drive = cfg.input_amplitude * np.cos(cfg.input_frequency * times)
        return targets, learning, drive

    def extend(self, targets, z, dw, units) -> None:
        self.series["z"].extend(np.asarray(z, dtype=np.float64).tolist())
        self.series["f"].extend(targets.tolist())
        self.series["dw"].extend(np.asarray(dw, dtype=np.float64).tolist())
        self.series["units"].extend(np.asarray(self.backend.to_host(units), dtype=np.float64))
        self.step += len(targets)

    def _rls(self, r, error):
        """One recursive-least-squares update of P and the readout (the array-namespace path);
        returns |dw| as an array scalar, so that it stays on the device. c (q_i q_j) is the
        same either way round, so P stays exactly symmetric."""
        xp, P = self.xp, self.inverse_correlation
        q = P @ r
        c = self.cfg.learning_rate / (1.0 + q @ r)
        P -= c * xp.outer(q, q)
        dw = c * error * q
        self.readout += dw
        return xp.linalg.norm(dw)

    def _run_continuous(self, n_steps: int) -> None:
        """The true dynamics, tanh along the trajectory (odeint), for the studies; the twin
        trajectory alongside, renormalised after each time unit."""
        from scipy.integrate import odeint

        cfg, to_host = self.cfg, self.backend.to_host
        J, u, w, n = to_host(self.J), to_host(self.u), to_host(self.readout), cfg.n_units

        def velocity(pair, t):
            r = np.tanh(pair.reshape(2, n))
            dx = -pair.reshape(2, n) + cfg.g * (r @ J.T)
            if cfg.feedback:
                dx += np.outer(r @ w, u)
            if cfg.input_amplitude:
                dx += cfg.input_amplitude * math.cos(cfg.input_frequency * t) * u
            return dx.ravel()

        chunk = max(1, round(1.0 / cfg.dt))  # steps per time unit: renormalise on its multiples
        pair = np.concatenate([to_host(self.x), to_host(self.twin)])
        end = self.step + n_steps
        while self.step < end:
            stop = min(end, (self.step // chunk + 1) * chunk)
            steps = np.arange(self.step, stop + 1)
            path = odeint(velocity, pair, steps * cfg.dt)
            f = target_values(cfg.target, steps[:-1] * cfg.dt, steps[:-1])
            for k in range(len(steps) - 1):
                x = path[k, :n]
                self._keep(float(w @ np.tanh(x)), float(f[k]), 0.0, x=x)
            start_separation = float(np.linalg.norm(pair[n:] - pair[:n]))
            x, twin = path[-1, :n], path[-1, n:]
            separation = float(np.linalg.norm(twin - x))
            growth = math.log(separation / start_separation)
            self.log_growth.append((steps[0] * cfg.dt, (len(steps) - 1) * cfg.dt, growth))
            if stop % chunk == 0:
                twin = x + (twin - x) * (SEPARATION / separation)
            pair = np.concatenate([x, twin])
        self.x = self.backend.asarray(pair[:n])
        self.twin = self.backend.asarray(pair[n:])

    def _keep(self, z, f, dw, x=None):
        self.series["z"].append(z)
        self.series["f"].append(f)
        self.series["dw"].append(dw)
        x = self.backend.to_host(self.x) if x is None else x
        self.series["units"].append(np.array(x[: min(5, len(x))]))
        if not self.cfg.learn:
            self.series["x"].append(np.asarray(x, dtype=np.float32))
        self.step += 1

    # ------------------------------------------------------------------ figures
    def _phases(self):
        z, f = np.array(self.series["z"]), np.array(self.series["f"])
        learning = np.arange(len(z)) * self.cfg.dt < self.cfg.train_until
        if not self.cfg.learn:
            learning[:] = False
        return z, f, learning

    def metrics(self):
        z, f, learning = self._phases()

        def rmse(mask):
            return float(np.sqrt(np.mean((z[mask] - f[mask]) ** 2))) if mask.any() else float("nan")

        dws = [d for d in self.series["dw"] if d > 0]
        return {
            "train_rmse": rmse(learning) if self.cfg.learn else float("nan"),
            "test_rmse": rmse(~learning),
            "dw_norm": dws[-1] if dws else float("nan"),
            "readout_norm": float(self.xp.linalg.norm(self.readout)),
        }

    def trace(self):
        """Per step: the output z, the target f, |dw| (0 where RLS did not run), 5 units' x."""
        return {
            "time": np.arange(len(self.series["z"])) * self.cfg.dt,
            "z": np.array(self.series["z"]),
            "f": np.array(self.series["f"]),
            "dw": np.array(self.series["dw"]),
            "units": np.array(self.series["units"]).reshape(-1, min(5, self.cfg.n_units)),
        }

    def run(self, n_steps):
        """The network on its own, the present readout fed back and no RLS, from a copy of
        x: the time and the output z of each step (the array path, on any device)."""
        xp, cfg = self.xp, self.cfg
        decay, x = math.exp(-cfg.dt), self.x.copy()
        steps = self.step + np.arange(n_steps)
        _, _, drive = self.schedule(n_steps)
        z = xp.zeros(n_steps, dtype=self.backend.dtype)
        for s in range(n_steps):
            r = xp.tanh(x)
            z[s] = self.readout @ r
            total = cfg.g * (self.J @ r) + self.u * (z[s] * cfg.feedback + float(drive[s]))
            x = (
                x * decay + (1 - decay) * total
                if cfg.integrator == "reference"
                else (x + cfg.dt * (total - x))
            )
        return {"time": steps * cfg.dt, "z": self.backend.to_host(z)}

    def analyse(self, dataset):
        figures = {"final_readout_norm": float(self.xp.linalg.norm(self.readout))}
        if not self.cfg.learn and self.series.get("x"):
            history = np.array(self.series["x"])
            figures["activity_variance"] = float(history[len(history) // 2 :].var(axis=0).mean())
            records = np.array(self.log_growth).reshape(-1, 3)  # start time, span, log growth
            late = records[records[:, 0] >= self.step * self.cfg.dt / 2]
            if len(late):
                figures["lyapunov_exponent"] = float(late[:, 2].sum() / late[:, 1].sum())
        z, f, learning = self._phases()
        trace = self.trace()
        positive = trace["dw"] > 0
        output = Traces(
            "output",
            trace["time"],
            {
                "target": f,
                "output z": z,
                "|dw|": np.where(positive, trace["dw"], np.nan),
                "x of 5 units": trace["units"] + 2 * np.arange(trace["units"].shape[1]),
            },
            overlay={"target": ["output z"]},
            log_scale=("|dw|",) if positive.any() else (),
            shaded_until=min(self.cfg.train_until, trace["time"][-1]) if learning.any() else None,
            xlabel="time (learning shaded)",
            animate=("target", "output z"),
        )
        return Analysis(figures, [output])

    def snapshot(self):
        return self.backend.to_host(self.readout)[None, :]

    def layout(self, image_shape):
        return Layout(_near_square(self.cfg.n_units))  # the readout drawn as one tile


def _near_square(n: int) -> tuple[int, int]:
    rows = int(math.sqrt(n))
    while n % rows:
        rows -= 1
    return rows, n // rows
