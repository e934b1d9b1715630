"""Analytics for RevitPyIoT, in two rooms that import one way:

* ``detectors``: the live anomaly detectors, one contract (``detectors.base.Detector``), built by
  name for the live pipeline in ``detectors.live``;
* ``offline``: the models over users' exports (AHU fault detection, failure probability, remaining
  useful life), model files and the command line (``python -m sidecar detect|fdd|failure|rul``),
  which also runs the detectors over files.

``workorders`` serves the maintenance engine (the one health score is ``sidecar.health``'s). Nothing here is imported when
``import sidecar`` runs: numpy, pandas and scikit-learn load only when a module of this package is
imported, so the sidecar still answers ``hello`` quickly. The public entry points are documented
in ``docs/analytics.md`` ("Layout").
"""

ANALYTICS_VERSION = "1.0.0"
