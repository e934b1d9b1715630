"""The sidecar's alarm management (ISA-18.2 / IEC 62682 style).

- ``settings``   the ``[alerts]`` rule settings and ``[notifications.*]`` channels, parsed once;
- ``states``     the ISA-18.2 alarm states and how they map onto PROTOCOL.md's ``state``;
- ``sensor_rules`` vectorised per-batch rules (rate of change, flat line, stale, anomaly score);
- ``metrics``    alarm-rate metrics and flood detection;
- ``notify``     webhook and e-mail notifications (queue + worker per channel, never blocking).

The state machine itself is ``sidecar.alerts.AlertEngine``.
"""
