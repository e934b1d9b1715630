"""RevitPyIoT's installer: registers the pyRevit extension, builds the sidecar's virtual
environment, and removes exactly what it added.

Pure standard library: it runs with the user's Python before any virtual environment exists.
"""
