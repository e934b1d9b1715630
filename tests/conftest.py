"""Test-suite wide setup: make the extension's pure-Python lib importable."""
import os
import sys

# Two cores shared by sidecar subprocesses, brokers and browsers: BLAS/OpenMP pools sized to the
# machine only fight each other. Set before numpy/scikit-learn are first imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTENSION_LIB = os.path.join(ROOT, "RevitPyIoT.extension", "lib")
for path in (ROOT, EXTENSION_LIB):
    if path not in sys.path:
        sys.path.insert(0, path)
