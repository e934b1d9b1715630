"""Onboarding a real building: discover its points, classify them, match them to the model's
elements, and write (or read) the building as a Brick model.

``points``: the point list every step passes along. ``names``: the BMS-name tokenizer.
``classify``: point -> Brick class, quantity and unit. ``matching``: point -> Revit element.
``brick``: BuildingConfig <-> Brick Turtle. ``discovery``: BACnet/IP, MQTT and Modbus point lists.
``proposals``: points -> proposals -> a BuildingConfig with them bound. ``evaluation``: the
vendor-style ground truth the matcher is measured on. ``sample``: the demo building.
``cli``: ``python -m sidecar discover|brick|sample-building``.
"""
