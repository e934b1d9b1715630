"""The live anomaly detectors: one contract (``base.Detector``: ``learn_one``, ``score_one``,
``score_learn_one``, ``score_many``, ``forget``, state per sensor key) and its implementations.

* ``streaming``: robust residuals, fixed state per sensor, vectorised over a batch (the live default).
* ``contextual``: learned value contexts (CAD OSE's idea), the residual ensemble and the daily
  recurrence mask.
* ``resonance``: fuzzy-ART novelties of recent-window shapes (ARTime's idea).
* ``dual_vigilance``: ARTime's self-tuning dual-vigilance method.
* ``live``: the detectors of the live pipeline built by name (numpy-free, read by the settings).

Importing this package imports no numpy: ``live`` and ``base`` are numpy-free; the detector
modules load numpy when imported.
"""
