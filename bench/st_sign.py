"""schemathesis hooks for the bench's bare `st run`: sign every request as a real client.

Loaded by `st run` through SCHEMATHESIS_HOOKS (bench/run.py sets it, with the target
file in IMAGECERT_BENCH_TARGET), so that the bare engine sends requests the reference
provider authenticates, like imagecert's fuzz suites do: the anchor then pays for
signing and for the provider's real answers, not for a 401 on every request.
"""

from __future__ import annotations

import os

import schemathesis

from imagecert.target import load_target
from imagecert.world import auth_for

_TARGET = load_target(os.environ["IMAGECERT_BENCH_TARGET"])
_AUTH = auth_for(_TARGET.auth, _TARGET.scope)


@schemathesis.hook
def before_call(context, case, kwargs):
    kwargs["auth"] = _AUTH
