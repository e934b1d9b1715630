"""Live predictive maintenance: the ``MaintenanceEngine`` that runs the analytics models on the
sidecar's live data (health score, time to failure, failure probability, work orders).

Kept import-light on purpose: ``sidecar.config`` imports ``sidecar.maintenance.settings`` and
must not pull numpy-heavy analytics in. The engine lives in ``sidecar.maintenance.engine``.
See docs/analytics.md, "Live predictive maintenance".
"""
