"""Load the contracts: each dialect's OpenAPI fragment and its constraint catalog.

These files are the single source of truth (see contracts/README.md); the reference
provider, the suites, the fuzzer and the reports all read them through this module.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import yaml


DIALECTS = ("huawei-ims", "huawei-nova", "jdcloud-vm", "apsara-ecs")
KINDS = ("constraint", "parameter-rule", "return-code", "behaviour")
LEVELS = ("must", "should", "advisory")


# An installed imagecert carries the repository's top-level `contracts/` and `suites/` as
# package data (setup.py copies them in when the wheel is built); a checkout has them at
# its top, beside `src/`.
PACKAGE_DATA = Path(__file__).resolve().parent / "_data"


def checkout_root() -> Path | None:
    """The repository this module runs from (`<root>/src/imagecert/`), or None when installed."""
    source = Path(__file__).resolve().parent.parent
    root = source.parent
    return root if source.name == "src" and (root / "pyproject.toml").is_file() else None


def shipped(name: str) -> Path:
    """A folder imagecert ships (`contracts`, `suites`): the installed package data, else
    the checkout's."""
    for base in (PACKAGE_DATA, checkout_root()):
        if base is not None and (base / name).is_dir():
            return base / name
    raise FileNotFoundError(f"imagecert ships no {name}/ here: neither {PACKAGE_DATA / name} (an installed "
                            f"wheel) nor a checkout's {name}/ beside src/ exists; reinstall imagecert")


def contracts_dir() -> Path:
    """The contracts folder: $IMAGECERT_CONTRACTS, else the shipped one (installed or checkout)."""
    configured = os.environ.get("IMAGECERT_CONTRACTS")
    return Path(configured) if configured else shipped("contracts")


def sources_dir() -> Path:
    return contracts_dir() / "sources"


@dataclass(frozen=True)
class Expectation:
    """What a conforming provider answers when a rule is broken."""

    status: int
    code: str | None = None
    message: str | None = None

    def message_pattern(self) -> re.Pattern[str] | None:
        """The documented message as a regex; the documents write "xx" for a value."""
        if not self.message:
            return None
        parts = [re.escape(p) for p in re.split(r"'?\bxx\b'?", self.message)]
        return re.compile(".*?".join(parts).rstrip(r"\.") + r"\.?$", re.S)


@dataclass(frozen=True)
class Entry:
    id: str
    kind: str
    level: str
    source: str
    quote: str
    summary: str = ""
    section: str = ""
    param: str | None = None
    expect: Expectation | None = None
    observable: str | None = None
    not_testable: str | None = None
    discrepancy: str | None = None
    http_status: int | None = None
    code: str | None = None
    message: str | None = None
    also: tuple[dict[str, str], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def testable(self) -> bool:
        return self.not_testable is None

    def quotes(self) -> list[tuple[str, str]]:
        """(source, quote) for this entry in every document that states it."""
        return [(self.source, self.quote)] + [(a["source"], a["quote"]) for a in self.also]


@dataclass(frozen=True)
class Catalog:
    dialect: str
    prefix: str
    entries: tuple[Entry, ...]

    @cached_property
    def by_id(self) -> dict[str, Entry]:
        return {e.id: e for e in self.entries}

    def __getitem__(self, entry_id: str) -> Entry:
        try:
            return self.by_id[entry_id]
        except KeyError:
            raise KeyError(f"{entry_id} is not in the {self.dialect} catalog") from None

    def of_kind(self, kind: str) -> list[Entry]:
        return [e for e in self.entries if e.kind == kind]


def _entry(raw: dict[str, Any]) -> Entry:
    expect = raw.get("expect")
    return Entry(
        id=raw["id"],
        kind=raw["kind"],
        level=raw["level"],
        source=raw["source"],
        quote=str(raw["quote"]),
        summary=raw.get("summary", ""),
        section=raw.get("section", ""),
        param=raw.get("param"),
        expect=Expectation(int(expect["status"]), expect.get("code"), expect.get("message"))
        if expect
        else None,
        observable=raw.get("observable"),
        not_testable=raw.get("not_testable"),
        discrepancy=raw.get("discrepancy"),
        http_status=raw.get("http_status"),
        code=None if raw.get("code") is None else str(raw["code"]),
        message=raw.get("message"),
        also=tuple(raw.get("also") or ()),
        raw=raw,
    )


# libyaml's safe loader where PyYAML has it: the same documents, parsed about ten times
# faster (every test process reads each dialect's contract and catalog once)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)


@cache
def load_catalog(dialect: str) -> Catalog:
    path = contracts_dir() / dialect / "constraints.yaml"
    data = _load_yaml(path)
    return Catalog(data["dialect"], data["prefix"], tuple(_entry(e) for e in data["entries"]))


@cache
def load_contract(dialect: str) -> dict[str, Any]:
    return _load_yaml(contracts_dir() / dialect / "openapi.yaml")


@cache
def auth_schemes(dialect: str) -> tuple[str, ...]:
    """The target file `[auth] scheme`s that sign this dialect's requests: the
    `x-imagecert-scheme` of each of its contract's `components.securitySchemes`."""
    schemes = (load_contract(dialect).get("components") or {}).get("securitySchemes") or {}
    return tuple(s["x-imagecert-scheme"] for s in schemes.values() if s.get("x-imagecert-scheme"))


def contract_path(dialect: str) -> Path:
    return contracts_dir() / dialect / "openapi.yaml"


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def role(self) -> str:
        return self.spec.get("x-imagecert-role", "under-test")


def operations(dialect: str) -> dict[str, Operation]:
    found = {}
    for path, item in load_contract(dialect)["paths"].items():
        for method, spec in item.items():
            if isinstance(spec, dict) and "operationId" in spec:
                found[spec["operationId"]] = Operation(spec["operationId"], method.upper(), path, spec)
    return found


def resolve(dialect: str, node: Any) -> Any:
    """Follow a local `$ref` (one level at a time) inside a dialect's contract."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = load_contract(dialect)
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def request_schema(dialect: str, operation_id: str, media_type: str | None = None) -> dict[str, Any]:
    """The request body schema of an operation, with every `$ref` left for the validator."""
    body = resolve(dialect, operations(dialect)[operation_id].spec["requestBody"])
    content = body["content"]
    media = media_type or next(iter(content))
    return content[media]["schema"]


def source_path(source: str) -> Path:
    """A catalog `source` names a seed file, or `reference/<path>`."""
    if source.startswith("reference/"):
        return sources_dir() / source
    return sources_dir() / "seeds" / source


def pointer(*parts: str) -> str:
    """A JSON pointer into a contract, from its unescaped parts."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


@cache
def _registry(dialect: str):
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resource = Resource.from_contents(load_contract(dialect), default_specification=DRAFT202012)
    return Registry().with_resource(f"urn:imagecert:{dialect}", resource)


@cache
def validator(dialect: str, json_pointer: str):
    """A JSON Schema validator for the schema at `json_pointer` in a dialect's contract,
    with `$ref`s resolved inside that contract."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        {"$ref": f"urn:imagecert:{dialect}#{json_pointer}"}, registry=_registry(dialect)
    )


def decodes_to(dialect: str, schema_ref: str, text: str) -> bool:
    """Whether Base64 `text` decodes to JSON valid against the schema `schema_ref` names
    (an `x-imagecert-decoded` pointer, "#/components/schemas/…")."""
    import base64
    import binascii
    import json

    try:
        decoded = json.loads(base64.b64decode(text, validate=True).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return False
    return validator(dialect, schema_ref.lstrip("#")).is_valid(decoded)


def request_pointer(dialect: str, operation_id: str, media_type: str | None = None) -> str:
    op = operations(dialect)[operation_id]
    body = op.spec["requestBody"]
    base = pointer("paths", op.path, op.method.lower(), "requestBody")
    if "$ref" in body:
        base = body["$ref"].lstrip("#")
        body = resolve(dialect, body)
    media = media_type or next(iter(body["content"]))
    return base + pointer("content", media, "schema")
