"""Test-suite wide setup: make the extension's pure-Python lib importable."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTENSION_LIB = os.path.join(ROOT, "RevitPyIoT.extension", "lib")
for path in (ROOT, EXTENSION_LIB):
    if path not in sys.path:
        sys.path.insert(0, path)
