"""Analytics for RevitPyIoT: streaming anomaly detection, AHU fault detection, health scores,
failure probability, remaining useful life and maintenance work orders.

Nothing here is imported when ``import sidecar`` runs: numpy, pandas and scikit-learn load only
when a module of this package is imported, so the sidecar still answers ``hello`` quickly.
The public entry points are documented in ``docs/analytics.md``.
"""

ANALYTICS_VERSION = "1.0.0"
