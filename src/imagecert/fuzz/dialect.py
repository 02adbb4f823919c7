"""What a dialect's fuzz suite hands the engine: the identifiers that must name something
real (`Fill`), the catalog rules JSON Schema cannot say (`CatalogRule`), the bodies the
documents can be read two ways about (`Ambiguity`) and how to follow an image made
(`Lifecycle`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import requests

from imagecert.world import World


@dataclass(frozen=True)
class Fill:
    """A path parameter, header, query parameter or body field that must name something
    real for a schema-valid request to be accepted: `make(world)` provisions it (a
    resource in the right state, or a fixed value). `name` is the parameter's name, or
    a body field: a dotted path where `*` stands for every item of an array
    (`dataDisks.*.cloudDiskSpec.snapshotId`), or a form's flat name where `*` stands
    for a number (`DiskDeviceMapping.*.SnapshotId`). A body field is filled only where
    the generated body carries it (so every branch of a `oneOf` keeps being generated)
    and, in JSON, holds a string (so a generated wrong type stays wrong).

    `reusable`: nothing an accepted request does uses it up (a snapshot an image is
    made from stays as it was; a fixed value), so it is made once per test and given to
    every request, as one request already gives it to each field it fills. By default a
    fill is made afresh for each request that may be accepted (an instance is busy once
    an image is being made from it)."""

    location: str
    name: str
    make: Callable[[World], Any]
    reusable: bool = False


@dataclass(frozen=True)
class CatalogRule:
    """A catalog rule JSON Schema cannot say, as a predicate on the request body sent:
    a schema-valid body that `broken_by` must be refused as `rule_id` documents.
    `probes(example)` turns one of the contract's request examples into bodies at the
    rule's edge (just inside and just over it), sent in the examples phase so that the
    rule is checked every run, not only when generation happens upon it."""

    rule_id: str
    broken_by: Callable[[Any], bool]
    probes: Callable[[Any], list[Any]] = lambda example: []


@dataclass(frozen=True)
class Lifecycle:
    """How the stateful phase follows what an accepted create made.

    `image_of(world, response)` runs once the jobs are settled: it follows the job (or
    the image) to its end, checks it ended well, and returns the image id;
    `read(world, image_id)` reads the image; `ready(body)` says whether a read body
    shows a usable image; `gone(response)` whether a read shows a deleted image gone
    (default: a documented 4xx). Deleting uses the contract's `x-imagecert-cleanup`
    operation."""

    image_of: Callable[[World, requests.Response], str]
    read: Callable[[World, str], requests.Response]
    ready: Callable[[Any], bool]
    gone: Callable[[requests.Response], bool] | None = None


@dataclass(frozen=True)
class Ambiguity:
    """A schema-valid body the documents can be read two ways about (a `D…` catalog
    entry with both readings): `applies(body)` says the body is one. Such a body is
    never sent as a valid request; elsewhere either documented answer passes."""

    entry_id: str
    applies: Callable[[Any], bool]

