"""The sidecar's alarm management (ISA-18.2 / IEC 62682 style), in one room.

- ``record``       the alert record and every alert kind (sensor, equipment and building kinds);
- ``engine``       ``AlertEngine``: the alarm state machine, shelving, escalation, flood
                   suppression, and the describer hook per kind;
- ``sensor_rules`` vectorised per-batch rules (limits, rate of change, flat line, stale, anomaly);
- ``limits``       ``set_limits``: one sensor's limits changed live (the quantity defaults
                   are the building model's, ``sidecar.limits``);
- ``states``       the ISA-18.2 alarm states and how they map onto PROTOCOL.md's ``state``;
- ``settings``     the ``[alerts]`` rule settings and ``[notifications.*]`` channels, parsed once;
- ``metrics``      alarm-rate metrics and flood detection;
- ``notify``       webhook and e-mail notifications (queue + worker per channel, never blocking).

A reading's way: pipeline -> ``sensor_rules`` -> ``engine`` -> its listener (the pipeline,
which publishes ``alert`` events). Nothing here imports the pipeline, health or analytics
(``sensor_rules`` builds the optional live detector from ``sidecar.analytics.live``).
"""
