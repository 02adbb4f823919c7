"""Hypothesis profiles for the fuzz suites (`suites/<dialect>/test_fuzz.py`).

`ci` (the default) is fast and derandomized, so CI never flakes; `deep` runs ten times
the examples with fresh randomness. Choose with IMAGECERT_HYPOTHESIS_PROFILE;
`--fuzz-examples N` and `--hypothesis-seed N` override either.
"""

import os

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 25

settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("deep", max_examples=CI_EXAMPLES * 10, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("IMAGECERT_HYPOTHESIS_PROFILE", "ci"))
