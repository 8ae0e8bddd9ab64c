"""lrpref as a good neighbour (config.release_blas_threads, docs/reliability.md): after lr.explain returns, NumPy's
OpenBLAS worker threads are stopped — only when the process has one Python thread and no other lrpref call runs —
and the next product restarts them. Counted as the process's OS threads (/proc/self/task), in a fresh process."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

if not Path("/proc/self/task").is_dir():
    pytest.skip("counts threads through /proc (Linux)", allow_module_level=True)

SCRIPT = """
import json, os, threading
import numpy as np
import lrpref as lr
from lrpref._fast import blas

def threads():
    return len(os.listdir("/proc/self/task"))

rng = np.random.default_rng(0)
net = lr.Sequential([lr.Dense(rng.normal(size=(512, 512))), lr.ReLU(), lr.Dense(rng.normal(size=(3, 512)))])
x = rng.normal(size=(256, 512))
found = {"library": blas.library().name, "stops": blas.library().stop_threads is not None}
first = lr.explain(net, x, rule=lr.Epsilon()).relevance
found["after_release"] = threads()
found["same"] = bool(np.array_equal(first, lr.explain(net, x, rule=lr.Epsilon()).relevance))
lr.config.release_blas_threads = False
lr.explain(net, x, rule=lr.Epsilon())
found["kept"] = threads()
lr.config.release_blas_threads = True
blocker = threading.Event()
other = threading.Thread(target=blocker.wait)
other.start()                                 # a second Python thread might be inside BLAS: nothing is stopped
lr.explain(net, x, rule=lr.Epsilon())
found["two_python_threads"] = threads() - 1
blocker.set(); other.join()
print(json.dumps(found))
"""


def test_blas_threads_stop_after_a_call_only_when_it_is_safe():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True,
                         env={"OPENBLAS_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"})
    found = json.loads(out.stdout.strip().splitlines()[-1])
    if not found["stops"]:
        pytest.skip(f"{found['library']} has no blas_thread_shutdown_")
    assert found["same"]
    assert found["after_release"] < found["kept"]                # OpenBLAS's worker threads stopped after lr.explain
    assert found["two_python_threads"] == found["kept"]          # not stopped with another Python thread
