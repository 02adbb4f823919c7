"""hypothesis' regex strategies, built once per (pattern, fullmatch, alphabet), and their
character classes once per (class, flags, alphabet)."""

from __future__ import annotations

import importlib
import re._constants as sre
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

# And the coverage phase rewrites each pattern's quantifiers for every length limit it
# probes (`^[\u4e00-\u9fa5a-z]{1,32}$` becomes `{31,32}`, `{33,33}`, …): distinct
# patterns, each a new strategy, whose character classes are the same. hypothesis builds
# a class one code point at a time (twenty thousand for the CJK range), so while a phase
# runs its private `_strategy`, which turns each piece of a parsed pattern into a
# strategy, answers a character class from a memo keyed by the class, the flags in force
# and the alphabet's characters. Again the same strategy hypothesis builds.
_REGEX_INTERNALS = importlib.import_module("hypothesis.strategies._internal.regex")
_BUILD_PIECE = getattr(_REGEX_INTERNALS, "_strategy", None)
_CLASS_STRATEGIES: dict[tuple[Any, ...], Any] = {}  # (class, flags, is_unicode, alphabet's characters): strategy


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


def _memoized_piece(codes, context, is_unicode, *, alphabet):
    if not (isinstance(codes, tuple) and codes[0] == sre.IN):
        return _BUILD_PIECE(codes, context, is_unicode, alphabet=alphabet)
    characters = _REGEX_INTERNALS.unwrap_strategies(alphabet).intervals if alphabet is not None else None
    key = (tuple(codes[1]), int(context.flags), is_unicode, characters)
    found = _CLASS_STRATEGIES.get(key)
    if found is None:
        found = _CLASS_STRATEGIES[key] = _BUILD_PIECE(codes, context, is_unicode, alphabet=alphabet)
    return found


@contextmanager
def memoized_regex_strategies():
    """While the block runs, `st.from_regex` gives the strategy built once per key, and
    hypothesis builds each character class once per key."""
    if st.from_regex is _memoized_from_regex:  # nested: already on
        yield
        return
    if _BUILD_PIECE is None:
        raise RuntimeError("this hypothesis version builds regex strategies without _strategy: "
                           "update imagecert.fuzz.regex")
    previous, st.from_regex = st.from_regex, _memoized_from_regex
    _REGEX_INTERNALS._strategy = _memoized_piece
    try:
        yield
    finally:
        st.from_regex = previous
        _REGEX_INTERNALS._strategy = _BUILD_PIECE
