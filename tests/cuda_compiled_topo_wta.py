"""Run by test_topo_wta_kernel.py in a process of its own: compile the fused GPU kernel to PTX
for an H100 (compute capability 9.0) in float32 and float64, with no GPU. This checks what the
simulator cannot: that numba's CUDA compiler types and lowers the kernel. Either CUDA target
does: the maintained numba-cuda (which the gpu extra installs) or numba's own built-in one.
Where the CUDA toolkit's ptxas and nvlink are on hand as well, the PTX is assembled for sm_90
and linked with the device runtime (whose cudaCGSynchronize is the grid barrier) into a cubin,
as the driver does at the first launch. Needs NVVM; exits with 3 where it is missing."""

import os
import shutil
import subprocess
import sys
import tempfile
import types
import warnings
from pathlib import Path

warnings.simplefilter("ignore")  # numba's built-in CUDA target says it is deprecated
try:
    from numba import cuda
    from numba import types as nt
    from numba.cuda import dispatcher
    from numba.cuda.cudadrv import nvvm

    nvvm.NVVM().get_version()
except Exception as error:  # no NVVM: nothing to compile with
    print(f"no CUDA compiler here: {' '.join(str(error).split())[:200]}")
    sys.exit(3)

# device functions ask the current device for its capability: answer for an H100
dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))

from plastic.kernels import topo_wta_cuda as kernel  # noqa: E402


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


def toolkit():
    """ptxas, nvlink and libcudadevrt.a of a CUDA toolkit, or None."""
    roots = [os.environ.get(k) for k in ("CUDA_HOME", "CUDA_PATH")] + ["/usr/local/cuda"]
    for root in filter(None, roots):
        root = Path(root)
        tools = [root / "bin" / "ptxas", root / "bin" / "nvlink"]
        devrt = [p for p in (root / "lib64", root / "lib") if (p / "libcudadevrt.a").is_file()]
        if all(shutil.which(str(t)) for t in tools) and devrt:
            return (*tools, devrt[0] / "libcudadevrt.a")
    return None


def assemble_and_link(ptx, tools):
    """The cubin's size and ptxas's line on registers, spills and barriers."""
    ptxas, nvlink, devrt = tools
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        (scratch / "kernel.ptx").write_text(ptx)
        assembled = subprocess.run(
            [ptxas, "-arch=sm_90", "-c", "-v", "kernel.ptx", "-o", "kernel.o"],
            cwd=scratch,
            capture_output=True,
            text=True,
            check=True,
        )
        subprocess.run(
            [nvlink, "-arch=sm_90", "kernel.o", devrt, "-o", "kernel.cubin"],
            cwd=scratch,
            check=True,
        )
        usage = [line for line in assembled.stderr.splitlines() if "registers" in line]
        return (scratch / "kernel.cubin").stat().st_size, usage[-1].split(":", 1)[-1].strip()


tools = toolkit()
for dtype in (nt.float32, nt.float64):
    ptx, _ = cuda.compile_ptx(kernel.fused_steps.py_func, signature(dtype), cc=(9, 0))
    assert ".entry" in ptx and "cudaCGSynchronize" in ptx, (
        "no kernel, or no grid barrier, in the PTX"
    )
    line = f"{dtype}: {len(ptx):,} characters of PTX for sm_90"
    if tools:
        size, usage = assemble_and_link(ptx, tools)
        line += f"; linked with the device runtime: a {size:,}-byte cubin ({usage})"
    print(line)
