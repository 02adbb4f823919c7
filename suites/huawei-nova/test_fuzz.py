"""Fuzzing the createImage server action from the contract (see imagecert.fuzz).

Nova puts every server action on one path; the contract's fragment describes only
`createImage`, so the fuzzer generates only createImage bodies. What only this
dialect knows: the path's server_id names an ACTIVE server; every request asks for
the microversion from which a 202 names its image in the body; name and metadata
keys are limited in UTF-8 bytes, which JSON Schema (counting characters) cannot say.
"""

from __future__ import annotations

import unicodedata

from imagecert.checks import check
from imagecert.contracts import load_contract, request_schema, resolve
from imagecert.fuzz import Ambiguity, CatalogRule, Fill, FuzzTests, Fuzzer, Lifecycle

DIALECT = "huawei-nova"
CONTRACT = load_contract(DIALECT)
IMAGE_ID_VERSION = str(CONTRACT["info"]["x-imagecert-microversions"]["image_id_from"])
MADE = CONTRACT["components"]["schemas"]["Image"]["properties"]["status"]["x-imagecert-states"]["made"]
FIELDS = resolve(DIALECT, resolve(DIALECT, request_schema(DIALECT, "createImage"))["properties"]["createImage"])["properties"]
NAME_MAX_BYTES = FIELDS["name"]["x-imagecert-max-bytes"]
KEY_MAX_BYTES = FIELDS["metadata"]["x-imagecert-key-max-bytes"]


def _create_image(body):
    spec = (body or {}).get("createImage") if isinstance(body, dict) else None
    return spec if isinstance(spec, dict) else {}


def name_too_long_in_bytes(body) -> bool:
    name = _create_image(body).get("name")
    return isinstance(name, str) and len(name.encode("utf-8")) > NAME_MAX_BYTES


def metadata_key_too_long_in_bytes(body) -> bool:
    metadata = _create_image(body).get("metadata")
    return isinstance(metadata, dict) and any(len(k.encode("utf-8")) > KEY_MAX_BYTES for k in metadata)


def whitespace_at_an_end(body) -> bool:
    """NOVA-D005 (the schema says it too: never true of a schema-valid body)."""
    name = _create_image(body).get("name")
    return isinstance(name, str) and name != name.strip()


def names_with_whitespace_at_an_end(example) -> list:
    """Plain spaces around the example's name: the coverage phase's one name that breaks
    NOVA-D005's pattern also holds unprintable characters (NOVA-D009), refused alike."""
    spec = _create_image(example)
    return [{"createImage": {**spec, "name": name}} for name in (" lead", "trail ", "\u3000wide")] if spec else []


def name_not_printable(body) -> bool:
    """NOVA-D009: a name holding a character upstream calls unprintable (categories C*, and
    the line and paragraph separators), which the seed allows."""
    name = _create_image(body).get("name")
    return isinstance(name, str) and any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp")
                                         for c in name)


WIDE = "中"  # one character, three UTF-8 bytes: tells a byte limit from a character limit


def at_and_over_in_bytes(limit: int) -> list[str]:
    """A text of exactly `limit` UTF-8 bytes and one of `limit + 1`, both far under
    `limit` characters."""
    wide = limit // len(WIDE.encode("utf-8"))
    at = WIDE * wide + "a" * (limit - len((WIDE * wide).encode("utf-8")))
    return [at, at + "a"]


def names_at_the_byte_limit(example) -> list:
    spec = _create_image(example)
    return [{"createImage": {**spec, "name": name}} for name in at_and_over_in_bytes(NAME_MAX_BYTES)] if spec else []


def metadata_keys_at_the_byte_limit(example) -> list:
    spec = _create_image(example)
    return [{"createImage": {**spec, "metadata": {key: "v"}}} for key in at_and_over_in_bytes(KEY_MAX_BYTES)] \
        if spec else []


def image_of(world, created) -> str:
    image_id = (created.json() or {}).get("image_id")
    check(world.api, "NOVA-P007", bool(image_id), f"a 202 at {IMAGE_ID_VERSION} names image_id, not {created.text[:200]}")
    return image_id


FUZZ = Fuzzer(
    DIALECT,
    fills=[
        Fill("path", "server_id", lambda world: world.make("instance", role="instance.running", status="ACTIVE")),
        Fill("header", "X-OpenStack-Nova-API-Version", lambda world: IMAGE_ID_VERSION),
        Fill("header", "OpenStack-API-Version", lambda world: f"compute {IMAGE_ID_VERSION}"),
    ],
    rules=[CatalogRule("NOVA-D001", name_too_long_in_bytes, names_at_the_byte_limit),
           CatalogRule("NOVA-D002", metadata_key_too_long_in_bytes, metadata_keys_at_the_byte_limit),
           CatalogRule("NOVA-D005", whitespace_at_an_end, names_with_whitespace_at_an_end)],
    ambiguities=[Ambiguity("NOVA-D009", name_not_printable)],
    malformed_rule="NOVA-P003",
    lifecycle=Lifecycle(
        image_of=image_of,
        read=lambda world, image_id: world.api.call("showImage", path={"image_id": image_id}),
        ready=lambda body: (body.get("image") or {}).get("status") == MADE,
    ),
)

# the four tests (tests/test_fuzz.py and the cassettes know them by these names and ids)
TESTS = FuzzTests(FUZZ, examples="16889238-1d68-473c-a882-6d817ad27aba", valid="489b7724-c384-41d3-ad2f-1efe6d43445b",
                  invalid="5d95a799-cf8d-4ed8-9545-3b176f03f8f2", lifecycle="f66145fb-39d5-4efd-bef8-14c6783fd2fb",
                  lifecycle_test="test_made_images_become_active_read_and_delete",
                  lifecycle_rules=("NOVA-B001", "NOVA-P007"))
globals().update(TESTS.tests())
