"""Replay protection: a signed request's nonce is good once per access key.

JD Cloud signs with `x-jdcloud-nonce`, Alibaba with `x-acs-signature-nonce` (ROA) or
`SignatureNonce` (RPC, in the query); both exist so that a captured request cannot be
sent again while its date is still inside the validity window. A nonce is remembered
for as long as a request carrying it could still pass the date check (its date may be
up to one window ahead of the clock, and stays valid one window after that), then
forgotten, so memory follows the request rate, not the uptime. Huawei AK/SK and
tokens carry no nonce: nothing here applies to them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Mapping
from urllib.parse import parse_qsl

# where each scheme carries its nonce: headers (lower-case), then query parameters
NONCE_HEADERS = {"jdcloud-hmac": ("x-jdcloud-nonce",), "apsara-aksk": ("x-acs-signature-nonce",)}
NONCE_PARAMS = {"apsara-aksk": ("SignatureNonce",)}


def nonce_of(scheme: str, headers: Mapping[str, str], query: str) -> str | None:
    """The nonce a request of `scheme` carries, or None (none sent, or a scheme without)."""
    for name in NONCE_HEADERS.get(scheme, ()):
        if headers.get(name):
            return headers[name]
    params = NONCE_PARAMS.get(scheme, ())
    if params:
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name in params and value:
                return value
    return None


class Nonces:
    """The nonces seen per access key within the validity window."""

    def __init__(self, window_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.keep = 2 * window_seconds
        self.clock = clock
        self.lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()  # oldest first

    def first_use(self, key: str, nonce: str) -> bool:
        """Record the nonce; False when the key used it already within the window."""
        now = self.clock()
        with self.lock:
            while self._seen and next(iter(self._seen.values())) <= now:
                self._seen.popitem(last=False)
            if (key, nonce) in self._seen:
                return False
            self._seen[(key, nonce)] = now + self.keep
            return True

    def __len__(self) -> int:
        return len(self._seen)
