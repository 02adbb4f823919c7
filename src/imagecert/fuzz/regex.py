"""hypothesis' regex strategies, built once per (pattern, fullmatch, alphabet)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from hypothesis import strategies as st

# schemathesis builds the strategy of a patterned string anew for every draw in the
# negative phase (each draw mutates the schema and builds from it) and filters it, and a
# filtered `st.from_regex` is a new lazy strategy that parses the pattern again and
# intersects each of its character classes with the alphabet: for the contracts' CJK
# classes that is most of the time a negative draw takes, for a handful of distinct
# patterns. No schemathesis or hypothesis option caches it, so while a phase runs
# `hypothesis.strategies.from_regex` (public) answers with one strategy per (pattern,
# fullmatch, alphabet), built once for the process: a `st.deferred` over hypothesis' own,
# so that filtering or mapping it never builds it again. It relies on schemathesis calling
# `st.from_regex` through the module (tests/test_fuzz.py fails loudly when it stops).
# The strategies are the same ones hypothesis would build: same values, same seeds.

_FROM_REGEX = st.from_regex
_REGEX_STRATEGIES: dict[tuple[Any, ...], Any] = {}  # (pattern, fullmatch, alphabet): strategy; alphabets kept alive


def _memoized_from_regex(regex, fullmatch: bool = False, *, alphabet=None):
    key = (type(regex), regex, bool(fullmatch), alphabet)
    try:
        found = _REGEX_STRATEGIES.get(key)
    except TypeError:  # an unhashable alphabet (a list of characters): nothing to share
        return _FROM_REGEX(regex, fullmatch=fullmatch, alphabet=alphabet)
    if found is None:
        built = _FROM_REGEX(regex, fullmatch=fullmatch, alphabet=alphabet)
        found = _REGEX_STRATEGIES[key] = st.deferred(lambda: built)
    return found


@contextmanager
def memoized_regex_strategies():
    """While the block runs, `st.from_regex` gives the strategy built once per key."""
    if st.from_regex is _memoized_from_regex:  # nested: already on
        yield
        return
    previous, st.from_regex = st.from_regex, _memoized_from_regex
    try:
        yield
    finally:
        st.from_regex = previous

