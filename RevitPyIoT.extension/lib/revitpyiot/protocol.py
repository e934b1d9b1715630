# -*- coding: utf-8 -*-
"""The protocol constants, re-exported from ``shared_schemas.protocol``."""
import revitpyiot  # noqa: F401  (puts shared_schemas on sys.path)
from shared_schemas.protocol import *  # noqa: F401,F403
from shared_schemas.paths import default_data_dir, default_token_path  # noqa: F401
