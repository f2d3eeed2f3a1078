"""device=gpu for topo_wta: the fused CUDA kernel equals the compiled CPU loop for every
variant, on one block and on two. Run under numba's CUDA simulator (taught cooperative grids of
several blocks in cuda_simulated_topo_wta.py), so it needs no GPU; test_gpu.py runs it on one."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.test_topo_wta import VARIANTS


@pytest.mark.slow  # about 2 minutes on 2 cores: the simulator runs every thread in Python
def test_fused_kernel_equals_the_cpu_loop_for_every_variant():
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "tests" / "cuda_simulated_topo_wta.py"),
            json.dumps(VARIANTS),
            "24",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.splitlines()[-1])
    assert set(report) == set(VARIANTS)
    for variant, differences in report.items():
        assert differences["weights"] < 1e-12, (variant, differences)
        assert differences["wins"] == 0.0, (variant, differences)  # the same winners, ties too
        assert differences["ema_output"] < 1e-12, (variant, differences)
        # and the reference, whose sums run in another order: the rule's kernel_tolerance
        for key in ("weights", "ema_output"):
            assert differences[f"{key} (reference)"] < 1e-9, (variant, differences)
        assert differences["wins (reference)"] == 0.0, (variant, differences)


def test_fused_kernel_compiles_for_an_h100():
    # numba's CUDA compiler types and lowers the kernel (what the simulator cannot check), and
    # where a CUDA toolkit is on hand ptxas and nvlink make a cubin of it; runs where NVVM is
    # installed (the gpu extra, or a CUDA toolkit beside numba), with or without a GPU
    out = subprocess.run(
        [sys.executable, str(REPO / "tests" / "cuda_compiled_topo_wta.py")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        timeout=600,
    )
    if out.returncode == 3:
        pytest.skip(out.stdout.strip())
    assert out.returncode == 0, out.stderr[-3000:]
    assert "float32" in out.stdout and "float64" in out.stdout
