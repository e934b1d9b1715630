"""Offline models over users' exports: AHU fault detection (``ahu_fdd``), failure probability
(``failure``), remaining useful life (``rul``), model files and cards (``models``) and the command
line that runs them and the detectors over files (``cli``: ``python -m sidecar detect|fdd|failure|rul``).

Imports run one way: ``cli`` imports the models and ``sidecar.analytics.detectors``; the models
import only ``errors`` (``CliError``) and ``models``, never the CLI. numpy, pandas and scikit-learn
load when a module here is imported (scikit-learn only when a model is fitted).
"""
