"""Run by test_topo_wta_kernel.py in a process of its own, with numba's CUDA simulator on:
the fused GPU kernel against the compiled CPU loop and the reference (array code), for the
variants given as JSON in argv[1].
Prints, per variant, the largest differences of the weights, win counts and EMA output."""

import json
import os
import sys

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # before numba.cuda is first imported
sys.setswitchinterval(1e-6)  # each simulated thread is a Python thread: switch quickly

import numpy as np  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from plastic.backend import Backend  # noqa: E402
from plastic.kernels import bind  # noqa: E402
from plastic.kernels.topo_wta_cuda import FusedSteps  # noqa: E402
from plastic.models import topo_wta  # noqa: E402


def _cooperative_grids():
    """Teach the simulator cooperative grids of several blocks. It runs one block after another,
    and its grid barrier only waits for the threads of one block, so a kernel with a grid
    barrier can only be simulated with one block. Here all the blocks' threads run at once:
    `syncthreads` waits at a barrier of the thread's block, `grid.sync()` at one of the whole
    grid, and each block has its own shared arrays (made under a lock: the simulator's own
    making of them races when two threads ask at once)."""
    import threading

    from numba.cuda.simulator import kernel, kernelapi

    class Thread(threading.Thread):
        def __init__(self, fn, args, block, thread, block_dim, barriers):
            super().__init__(target=self._run, daemon=True)
            self.fn, self.args, self.barriers, self.error = fn, args, barriers, None
            self.blockIdx, self.threadIdx = kernelapi.Dim3(*block), kernelapi.Dim3(*thread)
            self.thread_id = thread[0] + block_dim[0] * (thread[1] + block_dim[1] * thread[2])

        def _run(self):
            try:
                self.fn(*self.args)
            except BaseException as error:  # stop every other thread at its next barrier
                self.error = error
                for barrier in self.barriers:
                    barrier.abort()

        def syncthreads(self):
            self.barriers[0].wait()

        def grid_sync(self):
            self.barriers[1].wait()

    class Grid:  # stands in for the simulator's BlockManager
        def __init__(self, fn, grid_dim, block_dim, debug):
            self.fn, self.grid_dim, self.block_dim = fn, grid_dim, block_dim

        def run(self, grid_point, *args):
            if any(grid_point):  # the first block's turn ran the whole grid
                return
            blocks = list(np.ndindex(*self.grid_dim))
            per_block = int(np.prod(self.block_dim))
            grid_barrier = threading.Barrier(len(blocks) * per_block)
            threads = []
            for block in blocks:
                barriers = (threading.Barrier(per_block), grid_barrier)
                for thread in np.ndindex(*self.block_dim):
                    threads.append(Thread(self.fn, args, block, thread, self.block_dim, barriers))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            errors = [t.error for t in threads if t.error is not None]
            first = next(
                (e for e in errors if not isinstance(e, threading.BrokenBarrierError)), None
            )
            if first is not None or errors:
                raise first or errors[0]

    lock = threading.Lock()

    def shared_array(self, shape, dtype):
        assert shape != 0, "dynamic shared memory is not used here"
        caller = sys._getframe(1)
        key = (
            tuple(threading.current_thread().blockIdx),
            caller.f_code.co_filename,
            caller.f_lineno,
        )
        with lock:
            if key not in self._allocations:
                self._allocations[key] = np.empty(shape, dtype)
            return self._allocations[key]

    kernel.BlockManager = Grid
    kernelapi.GridGroup.sync = lambda self: threading.current_thread().grid_sync()
    kernelapi.FakeCUDAShared.array = shared_array


_cooperative_grids()
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
        models = [topo_wta.TopoWTA(cfg, CPU, n_inputs, np.random.default_rng(1)) for _ in "ab"]
        bind(models[1], {})  # the reference: TopoWTA.learn_steps, array code
        for model in models:
            model.learn(inputs)
        # the GPU path in two launches, with a save and load of its state in between: first
        # the model's own grid (one block of 64 threads: 2 slices of the inputs per unit),
        # then 2 blocks of 32 threads, fewer threads than units and 3 tiles of units for
        # 2 blocks (one block takes two), which the blocks' lists must merge across
        first = topo_wta.TopoWTA(cfg, SIMULATED_GPU, n_inputs, np.random.default_rng(1))
        half = n_steps // 2
        first.learn(inputs[:half])
        second = topo_wta.TopoWTA(cfg, SIMULATED_GPU, n_inputs, np.random.default_rng(2))
        second.load_state_dict(first.state_dict())
        second._fused_steps = FusedSteps(cfg.kx * cfg.ky, cfg.n_winners, np, blocks=2, threads=32)
        second.learn(inputs[half:])
        cpu, reference, gpu = (m.state_dict() for m in (*models, second))
        report[name] = {key: float(np.abs(gpu[key] - cpu[key]).max()) for key in cpu}
        report[name].update(
            {f"{key} (reference)": float(np.abs(gpu[key] - reference[key]).max()) for key in cpu}
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
