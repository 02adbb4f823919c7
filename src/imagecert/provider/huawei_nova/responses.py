"""Huawei ECS's Nova-native API on the wire: microversions, the createImage action, the
image proxy and the version document, with Nova's fault bodies.

Every limit is read from the contract (contracts/huawei-nova/openapi.yaml): the
microversion range and the versions at which createImage's answer changes
(`info.x-imagecert-microversions`), and the seed's byte limits beside the JSON Schema
that counts characters (`x-imagecert-max-bytes`, `x-imagecert-key-max-bytes`).
"""

from __future__ import annotations

import json
import random
import re
import string
import unicodedata
import uuid
from dataclasses import dataclass
from functools import cached_property
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

from imagecert.contracts import load_contract, request_schema, resolve
from imagecert.provider.dialect import Call, Dialect, Handler
from imagecert.provider.huawei_nova.models import MODEL_DEFECTS, HuaweiNova
from imagecert.provider.rules import Answer, Defect

DIALECT_NAME = "huawei-nova"

# Catalog rules the wire layer enforces (contracts/huawei-nova/constraints.yaml).
MALFORMED = "NOVA-R001"
UNAUTHORIZED = "NOVA-R002"
FORBIDDEN = "NOVA-R003"
NOT_FOUND = "NOVA-R004"
BAD_METHOD = "NOVA-R005"
BAD_MEDIA_TYPE = "NOVA-R009"
OTHER_PROJECT = "NOVA-P001"
ACTION_BODY = "NOVA-P003"
NAME_TOO_LONG = "NOVA-D001"
KEY_TOO_LONG = "NOVA-D002"
NAME_NOT_PRINTABLE = "NOVA-D009"
BAD_VERSION = "NOVA-B002"
UNSUPPORTED_VERSION = "NOVA-B006"

NO_LOCATION = Defect("NOVA-P006:no-location", "NOVA-P006", "no Location header below microversion 2.45")
NO_IMAGE_ID = Defect("NOVA-P007:no-image-id", "NOVA-P007", "no image_id body from microversion 2.45")
NO_VERSION_HEADERS = Defect("NOVA-B002:no-version-headers", "NOVA-B002", "answers do not name the microversion used")
NO_V2_PATH = Defect("NOVA-C008:no-v2-path", "NOVA-C008", "the seed's /v2 path answers 404, as if not served")
V2_HALF_READING = Defect("NOVA-D007:half-reading", "NOVA-D007",
                         "/v2 answers the unversioned 202 (Location) but names the microversion asked for")

_VERSION = re.compile(r"([1-9][0-9]*)\.(0|[1-9][0-9]*)")


@dataclass(frozen=True, order=True)
class Microversion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> "Microversion | None":
        match = _VERSION.fullmatch(text.strip())
        return cls(int(match.group(1)), int(match.group(2))) if match else None

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


@dataclass(frozen=True)
class Microversions:
    """What the contract says about microversions."""

    min: Microversion
    max: Microversion
    location_until: Microversion
    image_id_from: Microversion
    image_proxy_until: Microversion

    @classmethod
    def from_contract(cls) -> "Microversions":
        info = load_contract(DIALECT_NAME)["info"]["x-imagecert-microversions"]
        return cls(**{key: Microversion.parse(str(value)) for key, value in info.items()})


class HuaweiNovaDialect(Dialect):
    name = DIALECT_NAME
    schemes = ("token",)
    malformed_rule = MALFORMED
    unauthorized_rule = UNAUTHORIZED
    forbidden_rule = FORBIDDEN
    not_found_rule = NOT_FOUND
    method_rule = BAD_METHOD
    extra_defects = MODEL_DEFECTS + (NO_LOCATION, NO_IMAGE_ID, NO_VERSION_HEADERS, NO_V2_PATH, V2_HALF_READING)

    @cached_property
    def model(self) -> HuaweiNova:
        return HuaweiNova(self.store, self.rules, self.settings.job_seconds)

    @cached_property
    def versions(self) -> Microversions:
        return Microversions.from_contract()

    @cached_property
    def byte_limits(self) -> tuple[int, int]:
        """(name, metadata key) limits in UTF-8 bytes, which JSON Schema cannot say."""
        action = resolve(self.name, request_schema(self.name, "createImage"))
        fields = resolve(self.name, action["properties"]["createImage"])["properties"]
        return fields["name"]["x-imagecert-max-bytes"], fields["metadata"]["x-imagecert-key-max-bytes"]

    def handlers(self) -> dict[str, Handler]:
        return {
            "createImage": self.create_image,
            "createImageV2": self.create_image,  # x-imagecert-alias-of: createImage, at the seed's /v2
            "getVersion": self.get_version,
            "showImage": self.show_image,
            "showServer": self.show_server,
            "deleteImage": self.delete_image,
        }

    def credentials(self, tenant_id: str, rng: random.Random) -> tuple[dict[str, str], dict[str, str]]:
        auth = {"scheme": "token", "token": "gAAAAA" + self.random_text(rng, 58)}
        scope = {"project_id": self.random_text(rng, 32, string.digits + "abcdef")}
        return auth, scope

    def default_attributes(self, kind: str) -> dict[str, Any]:
        if kind == "instance":
            # Huawei ECS system disks are EVS volumes: a healthy server is volume-backed.
            return {
                "status": "ACTIVE", "task": None, "az": "cn-north-4a", "os_type": "Linux",
                "system_disk": {"category": "cloud", "attached": True, "size_gb": 40},
                "data_disks": [],
            }
        if kind == "image":
            return {"status": "ACTIVE", "progress": 100, "name": "image", "metadata": {}, "snapshots": []}
        if kind == "snapshot":
            return {"status": "available", "size_gb": 40}
        return {}

    # microversions -------------------------------------------------------------
    @staticmethod
    def _asked_version(call: Call) -> str | None:
        """The version text a request asks for; OpenStack-API-Version wins, as upstream."""
        for part in (call.headers.get("openstack-api-version") or "").split(","):
            service, _, value = part.strip().partition(" ")
            if service.lower() == "compute" and value.strip():
                return value.strip()
        legacy = call.headers.get("x-openstack-nova-api-version")
        return legacy.strip() if legacy is not None else None

    @staticmethod
    def _unversioned(call: Call | None) -> bool:
        """The operation ignores microversions (`x-imagecert-microversions: ignored`: the /v2
        path, as upstream's legacy v2 compatible mode serves it; NOVA-D007)."""
        return call is not None and call.operation.spec.get("x-imagecert-microversions") == "ignored"

    def _version_of(self, text: str | None) -> Microversion | None:
        if text is None:
            return self.versions.min
        if text == "latest":
            return self.versions.max
        return Microversion.parse(text)

    def negotiate(self, call: Call) -> Microversion:
        if self._unversioned(call):  # the headers are ignored: the default version serves
            return self.versions.min
        text = self._asked_version(call)
        version = self._version_of(text)
        self.rules.require(BAD_VERSION, version is not None, text)
        if version is None:  # the defect let an unreadable version through: serve the minimum
            return self.versions.min
        self.rules.require(UNSUPPORTED_VERSION, self.versions.min <= version <= self.versions.max,
                           version, self.versions.min, self.versions.max)
        return version

    def _served_version(self, call: Call) -> Microversion | None:
        """The version an answer names, without refusing anything (for error answers)."""
        if self._unversioned(call):
            return None
        version = self._version_of(self._asked_version(call))
        if version is None or not self.versions.min <= version <= self.versions.max:
            return None
        return version

    def _headers(self, call: Call | None, version: Microversion | None) -> dict[str, str]:
        request_id = f"req-{uuid.UUID(call.request_id) if call else uuid.uuid4()}"
        headers = {"x-compute-request-id": request_id, "x-openstack-request-id": request_id}
        if version is not None and not self.rules.on(NO_VERSION_HEADERS.id):
            headers["X-OpenStack-Nova-API-Version"] = str(version)
            headers["OpenStack-API-Version"] = f"compute {version}"
            headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        return headers

    # request checks ------------------------------------------------------------
    def _read_json(self, call: Call) -> Any:
        content_type = call.headers.get("content-type")
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        self.rules.require(BAD_MEDIA_TYPE, content_type is None or media_type == "application/json",
                           message=f"Unsupported Content-Type: {content_type}")
        try:
            data = call.json()
            # a lone surrogate ("\ud800") parses but is no text: it could never be stored or shown
            json.dumps(data, ensure_ascii=False).encode("utf-8")
            return data
        except ValueError:  # Call.json() says ValueError for nesting deeper than the parser goes too
            self.rules.require(MALFORMED, False, message="Malformed request body")
            return None

    def _require_own_project(self, call: Call) -> str:
        asked, own = call.path_params["project_id"], call.tenant.scope.get("project_id")
        self.rules.require(OTHER_PROJECT, asked == own, asked, own)
        return own or asked

    @staticmethod
    def _base_url(call: Call) -> str:
        scheme = call.headers.get("x-forwarded-proto", "http")
        return f"{scheme}://{call.headers.get('host', 'localhost')}"

    # operations ----------------------------------------------------------------
    def create_image(self, call: Call) -> Response:
        """createImage, at /v2.1 or at the seed's /v2 (where no microversion is negotiated)."""
        unversioned = self._unversioned(call)
        self.rules.require(NOT_FOUND, not (unversioned and self.rules.on(NO_V2_PATH.id)),
                           message="The resource could not be found.")
        version = self.negotiate(call)
        data = self._read_json(call)
        project_id = self._require_own_project(call)
        # no body at all is a malformed action body (NOVA-P003); a body of another type is NOVA-D008's
        self.rules.require(ACTION_BODY, data is not None, message="Malformed request body")
        self.check_body(call, data)
        name, metadata = self._create_image_fields(data)
        name_bytes, key_bytes = self.byte_limits
        self.rules.require(NAME_TOO_LONG, len(name.encode("utf-8")) <= name_bytes)
        # whitespace at either end is NOVA-D005's (the schema's), so each rule has its own cases
        self.rules.require(NAME_NOT_PRINTABLE, all(_printable(c) for c in name.strip()))
        for key in metadata:
            self.rules.require(KEY_TOO_LONG, len(key.encode("utf-8")) <= key_bytes)

        image = self.model.create_image(call.tenant.id, call.path_params["server_id"], name, metadata)
        named = version if not unversioned else (
            self._version_of(self._asked_version(call)) if self.rules.on(V2_HALF_READING.id) else None)
        headers = self._headers(call, named)
        if version >= self.versions.image_id_from:
            if self.rules.on(NO_IMAGE_ID.id):
                return Response(status_code=202, headers=headers)
            return self.json_response({"image_id": image.id}, 202, headers)
        # the seed: Location is not supported from 2.44 on (upstream sends it at 2.44: NOVA-D006)
        if not self.rules.on(NO_LOCATION.id) and version < self.versions.location_until:
            headers["Location"] = f"{self._base_url(call)}/v2.1/{project_id}/images/{image.id}"
        return Response(status_code=202, headers=headers)

    @staticmethod
    def _create_image_fields(data: Any) -> tuple[str, dict[str, Any]]:
        """name and metadata of a body the contract accepted (or a defect let through:
        then whatever can be read, never an exception)."""
        spec = data.get("createImage") if isinstance(data, dict) else None
        spec = spec if isinstance(spec, dict) else {}
        name = spec.get("name")
        metadata = spec.get("metadata")
        return (name if isinstance(name, str) else "" if name is None else json.dumps(name),
                {str(k): v for k, v in metadata.items()} if isinstance(metadata, dict) else {})

    def get_version(self, call: Call) -> Response:
        base = self._base_url(call)
        document = {
            "version": {
                "id": "v2.1",
                "status": "CURRENT",
                "version": str(self.versions.max),
                "min_version": str(self.versions.min),
                "updated": "2013-07-23T11:33:21Z",
                "links": [{"rel": "self", "href": f"{base}/v2.1/"}],
                "media-types": [{"base": "application/json",
                                 "type": "application/vnd.openstack.compute+json;version=2.1"}],
            }
        }
        return self.json_response(document, 200, self._headers(call, None))

    def _image_proxy_version(self, call: Call) -> Microversion:
        version = self.negotiate(call)
        # upstream removed the image proxy from 2.36: later versions find no such resource
        self.rules.require(NOT_FOUND, version <= self.versions.image_proxy_until,
                           message="The resource could not be found.")
        return version

    def show_image(self, call: Call) -> Response:
        version = self._image_proxy_version(call)
        project_id = self._require_own_project(call)
        image = self.model.image(call.tenant.id, call.path_params["image_id"])
        return self.json_response({"image": self._image_view(call, project_id, image.id, image.attributes)},
                                  200, self._headers(call, version))

    def show_server(self, call: Call) -> Response:
        version = self.negotiate(call)
        self._require_own_project(call)
        server = self.model.server(call.tenant.id, call.path_params["server_id"])
        view = {"id": server.id, "status": server.attributes.get("status"),
                "OS-EXT-STS:task_state": server.attributes.get("task")}
        return self.json_response({"server": view}, 200, self._headers(call, version))

    def delete_image(self, call: Call) -> Response:
        version = self._image_proxy_version(call)
        self._require_own_project(call)
        self.model.delete_image(call.tenant.id, call.path_params["image_id"])
        return Response(status_code=204, headers=self._headers(call, version))

    def _image_view(self, call: Call, project_id: str, image_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
        base = self._base_url(call)
        view = {
            "id": image_id,
            "name": attrs.get("name", ""),
            "status": attrs.get("status", "ACTIVE"),
            "progress": attrs.get("progress", 100),
            "metadata": attrs.get("metadata") or {},
            "minDisk": attrs.get("min_disk") or 0,
            "minRam": 0,
            "OS-EXT-IMG-SIZE:size": attrs.get("size") or 0,
            "created": attrs.get("created", ""),
            "updated": attrs.get("updated", ""),
            "links": [
                {"rel": "self", "href": f"{base}/v2.1/{project_id}/images/{image_id}"},
                {"rel": "bookmark", "href": f"{base}/{project_id}/images/{image_id}"},
            ],
        }
        if attrs.get("server_id"):
            server_id = attrs["server_id"]
            view["server"] = {"id": server_id, "links": [
                {"rel": "self", "href": f"{base}/v2.1/{project_id}/servers/{server_id}"},
                {"rel": "bookmark", "href": f"{base}/{project_id}/servers/{server_id}"},
            ]}
        return view

    # answers -----------------------------------------------------------------
    def error_response(self, answer: Answer, call: Call | None) -> Response:
        fault_name = answer.code or self._fault_name(answer.status)
        body = {fault_name: {"code": answer.status, "message": answer.message or _reason(answer.status)}}
        version = self._served_version(call) if call is not None else None
        return self.json_response(body, answer.status, self._headers(call, version))

    def _fault_name(self, status: int) -> str | None:
        """The return-code row's fault name; a status without a row of its own is named
        like the catch-all row (computeFault, the 500 row)."""
        entry = self.rules.return_code(status) or self.rules.return_code(HTTPStatus.INTERNAL_SERVER_ERROR)
        return entry.code if entry else None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _printable(char: str) -> bool:
    """Upstream Nova's printable: no category C* character, no separator but a space (Zs)."""
    category = unicodedata.category(char)
    return category[0] != "C" and (category[0] != "Z" or category == "Zs")


DIALECT = HuaweiNovaDialect
