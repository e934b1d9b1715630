"""The building simulator behind the ``sim:`` source (``sidecar/sources/sim.py``).

``drivers``: building-wide physical signals as functions of simulated time (occupancy schedule,
weather, loads, AHU mixing). ``roles``: which of them each sensor follows, found from its
quantity, names and limits. ``scenarios``: scripted fault scenarios and their ground truth.
"""
