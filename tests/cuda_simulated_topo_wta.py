"""Run by test_topo_wta_kernel.py in a process of its own, with numba's CUDA simulator on:
the fused GPU kernel against the compiled CPU loop, for the variants given as JSON in argv[1].
Prints, per variant, the largest differences of the weights, win counts and EMA output."""

import json
import os
import sys

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # before numba.cuda is first imported
sys.setswitchinterval(1e-6)  # each simulated thread is a Python thread: switch quickly

import numpy as np  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from plastic.backend import Backend  # noqa: E402
from plastic.models import topo_wta  # noqa: E402


def _shared_arrays_made_once():
    """The simulator makes a block's shared array when its first thread asks for it, with no
    lock: two threads that ask at once can each get an array of their own (a rare, wrong
    answer). The same, keyed as the simulator keys it (the calling line), under a lock."""
    import threading

    from numba.cuda.simulator.kernelapi import FakeCUDAShared

    lock = threading.Lock()

    def array(self, shape, dtype):
        assert shape != 0, "dynamic shared memory is not used here"
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)
        with lock:
            if key not in self._allocations:
                self._allocations[key] = np.empty(shape, dtype)
            return self._allocations[key]

    FakeCUDAShared.array = array


_shared_arrays_made_once()
SIMULATED_GPU = Backend("gpu", np, np.dtype("float64"), "numba's CUDA simulator")
CPU = Backend("cpu", np, np.dtype("float64"), "cpu")


def main() -> None:
    variants, n_steps = json.loads(sys.argv[1]), int(sys.argv[2])
    rng = np.random.default_rng(0)
    n_inputs = 20
    inputs = rng.random((n_steps, n_inputs))
    inputs[3] = 0.0  # every unit ties at c = 0: the winners are the lowest indices
    inputs[4] = 1.0
    report = {}
    for name, overrides in variants.items():
        cfg = OmegaConf.merge(
            OmegaConf.structured(topo_wta.Config), {"kx": 9, "ky": 8, **overrides}
        )
        models = [topo_wta.Model(cfg, b, n_inputs, np.random.default_rng(1)) for b in (CPU,)]
        models[0].learn(inputs)
        # the GPU path in two blocks, with a save and load of its state in between
        first = topo_wta.Model(cfg, SIMULATED_GPU, n_inputs, np.random.default_rng(1))
        half = n_steps // 2
        first.learn(inputs[:half])
        second = topo_wta.Model(cfg, SIMULATED_GPU, n_inputs, np.random.default_rng(2))
        second.load_state_dict(first.state_dict())
        second.learn(inputs[half:])
        cpu, gpu = models[0].state_dict(), second.state_dict()
        report[name] = {key: float(np.abs(gpu[key] - cpu[key]).max()) for key in cpu}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
