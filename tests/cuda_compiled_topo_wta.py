"""Run by test_topo_wta_kernel.py in a process of its own: compile the fused GPU kernel to PTX
for an H100 (compute capability 9.0) in float32 and float64, with no GPU. This checks what the
simulator cannot: that numba's CUDA compiler types and lowers the kernel. Needs numba-cuda and
NVVM (`pip install -e '.[gpu]'`); exits with 3 where they are missing."""

import sys
import types

try:
    import numba_cuda  # noqa: F401  (the maintained CUDA target, which the gpu extra installs)
    from numba import cuda
    from numba import types as nt
    from numba.cuda import dispatcher
    from numba.cuda.cudadrv import nvvm

    nvvm.NVVM().get_version()
except Exception as error:  # no numba-cuda, no NVVM: nothing to compile with
    print(f"no CUDA compiler here: {' '.join(str(error).split())[:200]}")
    sys.exit(3)

# device functions ask the current device for its capability: answer for an H100
dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))

from plastic.models import _topo_wta_cuda as kernel  # noqa: E402


def signature(dtype):
    def array(of, ndim):
        return nt.Array(of, ndim, "C")

    scratch = (array(nt.float64, 1), array(nt.float64, 1), array(nt.int64, 1))
    grid = (nt.int64,) * 3 + (nt.float64, nt.int64) + (nt.boolean,) * 4
    rule = (nt.float64,) * 3 + (nt.int64,)
    return (
        array(dtype, 2),
        array(dtype, 2),
        array(dtype, 1),
        array(dtype, 1),
        *scratch,
        *grid,
        *rule,
    )


for dtype in (nt.float32, nt.float64):
    ptx, _ = cuda.compile_ptx(kernel.fused_steps.py_func, signature(dtype), cc=(9, 0))
    assert ".entry" in ptx and "cudaCGSynchronize" in ptx, (
        "no kernel, or no grid barrier, in the PTX"
    )
    print(f"{dtype}: {len(ptx):,} characters of PTX for sm_90")
