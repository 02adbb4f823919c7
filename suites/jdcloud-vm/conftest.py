"""The jdcloud-vm suite's shared helpers live beside it in `jd_support.py`; pytest's
importlib mode does not put a suite's folder on the path, so this conftest does."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
