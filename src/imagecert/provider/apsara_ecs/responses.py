"""Apsara Stack ECS wire format: parse a form, ask the model, render the answer.

Every operation takes an `application/x-www-form-urlencoded` body, as aliyunsdkcore's
CommonRequest sends it; values are text, read as integers where the contract types
them so. Success answers carry the seed's `RequestID` plus public ECS's `RequestId`
and `ImageId` (APS-D001); refusals are Alibaba's `{"RequestId", "HostId", "Code",
"Message", "Recommend"}`, which aliyunsdkcore parses (APS-D002).
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response

from imagecert.contracts import load_catalog
from imagecert.provider.apsara_ecs.models import (
    CLIENT_TOKEN_IGNORED,
    DELETE_KEEPS_IMAGE,
    IMAGE_NEVER_AVAILABLE,
    SIZE_DEFAULT_WRONG,
    TAG_SPELLINGS_DISAGREE,
    ApsaraEcs,
    CreateImageRequest,
    Mapping,
)
from imagecert.provider.dialect import Call, Dialect, Handler
from imagecert.provider.rules import Answer, Defect
from imagecert.provider.store import Resource

FORM = "application/x-www-form-urlencoded"
SEED_FAILURE = "APS-R001"  # its Code stands in for a failure the catalog gives no code

# Defects for behaviour a catalog `expect` cannot express.
ERROR_BODY_SEED_SHAPE = "APS:error-body-seed-shape"
SUCCESS_WITHOUT_REQUEST_ID = "APS:success-without-request-id"
LOWER_CASE_REGION_REFUSED = "APS:lower-case-region-refused"
TAG_ALIAS_IGNORED = "APS:tag-alias-ignored"
DEFAULTS_IGNORED = "APS:defaults-ignored"
RESOURCE_GROUP_DROPPED = "APS:resource-group-dropped"
BODY_VERSION_REFUSED = "APS:body-version-refused"
HTTPS_PREFIX_REFUSED = "APS:https-prefix-refused"

APS_DEFECTS = (
    Defect(ERROR_BODY_SEED_SHAPE, "APS-D002", 'refusals answer the seed\'s {"errorSample": {"resultCode", "resultMsg"}}'),
    Defect(SUCCESS_WITHOUT_REQUEST_ID, "APS-P024", "a successful CreateImage answers without RequestID"),
    Defect(IMAGE_NEVER_AVAILABLE, "APS-B003", "the image stays Creating, not even settled"),
    Defect(DELETE_KEEPS_IMAGE, "APS-B003", "DeleteImage answers 200 but the image stays listed"),
    Defect(CLIENT_TOKEN_IGNORED, "APS-B001", "a replayed ClientToken makes a second image"),
    Defect(LOWER_CASE_REGION_REFUSED, "APS-P019", "a body with regionId and no RegionId is refused"),
    Defect(TAG_ALIAS_IGNORED, "APS-P002", "Tag.N.key / Tag.N.value are dropped"),
    Defect(DEFAULTS_IGNORED, "APS-P005", "an image made without Platform / Architecture has neither"),
    Defect(SIZE_DEFAULT_WRONG, "APS-P016", "a mapping without Size gets its family's maximum"),
    Defect(RESOURCE_GROUP_DROPPED, "APS-P007", "the image is not placed in the ResourceGroupId asked for"),
    Defect(BODY_VERSION_REFUSED, "APS-P010", "a body with version is refused"),
    Defect(HTTPS_PREFIX_REFUSED, "APS-D007", 'a Description starting "https" (no "://") is refused'),
)

TAG_KEY = re.compile(r"^Tag\.(\d+)\.(Key|key|Value|value)$")
MAPPING_KEY = re.compile(r"^DiskDeviceMapping\.(\d+)\.(Device|SnapshotId|Size|DiskType)$")
MAPPING_FIELDS = {"Device": "device", "SnapshotId": "snapshot_id", "Size": "size", "DiskType": "disk_type"}


class ApsaraEcsDialect(Dialect):
    name = "apsara-ecs"
    schemes = ("apsara-aksk",)
    malformed_rule = "APS-C007"
    unauthorized_rule = "APS-C005"
    replay_rule = "APS-C009"  # SignatureNonceUsed (Alibaba ECS API reference, 公共错误码)
    forbidden_rule = "APS-C006"
    not_found_rule = "APS-C008"
    extra_defects = APS_DEFECTS

    def __init__(self, store, rules, settings):
        super().__init__(store, rules, settings)
        self.model = ApsaraEcs(store, rules, settings.job_seconds)
        self.failure_code = load_catalog(self.name)[SEED_FAILURE].code

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateImage": self.create_image,
            "DescribeImages": self.describe_images,
            "DeleteImage": self.delete_image,
        }

    def credentials(self, tenant_id, rng):
        auth = {
            "scheme": "apsara-aksk",
            "access_key": "LTAI" + self.random_text(rng, 16),
            "secret_key": self.random_text(rng, 30),
        }
        return auth, {"region_id": "cn-imagecert-1"}

    def new_id(self, kind: str) -> str:
        prefix = {"instance": "i", "snapshot": "s", "image": "m"}.get(kind, kind[:1])
        return f"{prefix}-{uuid.uuid4().hex[:20]}"

    def default_attributes(self, kind: str) -> dict[str, Any]:
        if kind == "instance":
            return {
                "status": "Running",
                "os_type": "Linux",
                "az": "cn-imagecert-1a",
                "task": None,
                "system_disk": {"category": "cloud_essd", "attached": True, "size_gb": 40, "device": "/dev/vda"},
                "data_disks": [],
            }
        if kind == "snapshot":
            return {"size_gb": 40, "status": "accomplished", "category": "cloud_essd", "disk_type": "system"}
        if kind == "image":
            return {"status": "Available", "progress": "100%", "name": "", "tags": [], "disks": []}
        return {}

    # operations ----------------------------------------------------------------------
    def create_image(self, call: Call) -> Response:
        form = self._form(call)
        self.rules.require(self.malformed_rule, not (self.rules.on(BODY_VERSION_REFUSED) and "version" in form))
        self.rules.require(self.malformed_rule, not (self.rules.on(HTTPS_PREFIX_REFUSED)
                                                     and str(form.get("Description", "")).startswith("https")))
        self.rules.require(self.malformed_rule, not (self.rules.on(LOWER_CASE_REGION_REFUSED)
                                                     and "regionId" in form and "RegionId" not in form))
        self.check_body(call, form)
        image_id = self.model.create_image(call.tenant.id, call.tenant.scope["region_id"], self._request(form))
        body: dict[str, Any] = {"RequestID": call.request_id, "RequestId": call.request_id, "ImageId": image_id}
        if self.rules.on(SUCCESS_WITHOUT_REQUEST_ID):
            del body["RequestID"]
        return self.json_response(body)

    def describe_images(self, call: Call) -> Response:
        form = self._form(call)
        self.check_body(call, form)
        region = self.model.region(call.tenant.scope["region_id"], _text(form.get("RegionId")), _text(form.get("regionId")))
        schema = self.request_schema("DescribeImages")["properties"]
        page = _int(form.get("PageNumber"), schema["PageNumber"]["default"])
        size = _int(form.get("PageSize"), schema["PageSize"]["default"])
        found = [i for i in self.model.images(call.tenant.id) if _matches(i, form)]
        shown = found[(page - 1) * size: page * size]
        return self.json_response({
            "RequestId": call.request_id,
            "RegionId": region,
            "TotalCount": len(found),
            "PageNumber": page,
            "PageSize": size,
            "Images": {"Image": [_image_body(i) for i in shown]},
        })

    def delete_image(self, call: Call) -> Response:
        form = self._form(call)
        self.check_body(call, form)
        self.model.region(call.tenant.scope["region_id"], _text(form.get("RegionId")), _text(form.get("regionId")))
        self.model.delete_image(call.tenant.id, str(form.get("ImageId", "")))
        return self.json_response({"RequestId": call.request_id})

    # parsing -------------------------------------------------------------------------
    def _form(self, call: Call) -> dict[str, Any]:
        """The body as a dict of the form's fields, integers where the contract says so.
        A body that is not a form with each field once breaks the malformed rule."""
        content_type = call.headers.get("content-type", "").split(";")[0].strip().lower()
        self.rules.require(self.malformed_rule, content_type == FORM or not call.body.strip(),
                           message=f"The body must be {FORM}.")
        fields = call.body.count(b"&") + 1
        self.rules.require(self.malformed_rule, fields <= self.settings.max_form_fields,
                           message=f"The body has {fields} parameters; at most {self.settings.max_form_fields} are read.")
        try:
            pairs = parse_qsl(call.body.decode("utf-8"), keep_blank_values=True,
                              strict_parsing=bool(call.body.strip()), encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError):
            self.rules.require(self.malformed_rule, False, message="The body is not a readable form.")
            pairs = []
        seen: set[str] = set()
        for name, _ in pairs:
            self.rules.require(self.malformed_rule, name not in seen, message=f"The parameter {name} is given twice.")
            seen.add(name)
        schema = self.request_schema(call.operation.operation_id)
        return {name: _typed(schema, name, value) for name, value in pairs}

    def _request(self, form: dict[str, Any]) -> CreateImageRequest:
        schema = self.request_schema("CreateImage")["properties"]
        defaults = not self.rules.on(DEFAULTS_IGNORED)
        return CreateImageRequest(
            region_id=_text(form.get("RegionId")),
            lower_region_id=_text(form.get("regionId")),
            instance_id=_text(form.get("InstanceId")),
            snapshot_id=_text(form.get("SnapshotId")),
            mappings=_mappings(form),
            image_name=str(form.get("ImageName", "")),
            description=str(form.get("Description", "")),
            platform=_text(form.get("Platform")) or (schema["Platform"]["default"] if defaults else None),
            architecture=_text(form.get("Architecture")) or (schema["Architecture"]["default"] if defaults else None),
            resource_group_id=None if self.rules.on(RESOURCE_GROUP_DROPPED) else _text(form.get("ResourceGroupId")),
            tags=self._tags(form),
            client_token=_text(form.get("ClientToken")),
            parameters=dict(form),
        )

    def _tags(self, form: dict[str, Any]) -> list[tuple[str, str]]:
        """Tag N's key and value, from either spelling (APS-D004); a value without its
        key is a tag with an empty key."""
        spelled: dict[int, dict[str, list[str]]] = {}
        for name, value in form.items():
            match = TAG_KEY.match(name)
            if not match or (self.rules.on(TAG_ALIAS_IGNORED) and match.group(2).islower()):
                continue
            part = spelled.setdefault(int(match.group(1)), {"key": [], "value": []})
            part[match.group(2).lower()].append(str(value))
        tags = []
        for number in sorted(spelled):
            for texts in spelled[number].values():
                self.rules.require(TAG_SPELLINGS_DISAGREE, len(set(texts)) <= 1, number)
            keys, values = spelled[number]["key"], spelled[number]["value"]
            tags.append((keys[0] if keys else "", values[0] if values else ""))
        return tags

    # answers -------------------------------------------------------------------------
    def refuse(self, error, call):
        # An unknown path or method reaches no handler, so no `require` can switch its rule
        # off: the unchecked defect is a catch-all route that answers 200.
        if call is None and self.rules.on(f"{error.rule_id}:unchecked"):
            return self.json_response({"RequestId": uuid.uuid4().hex})
        return super().refuse(error, call)

    def error_response(self, answer: Answer, call: Call | None) -> Response:
        request_id = call.request_id if call is not None else uuid.uuid4().hex
        code = answer.code if answer.code is not None else self.failure_code
        if self.rules.on(ERROR_BODY_SEED_SHAPE):
            body: dict[str, Any] = {"errorSample": {"resultCode": -1, "resultMsg": answer.message, "result": None}}
        else:
            body = {
                "RequestId": request_id,
                "HostId": (call.headers.get("host", "") if call is not None else ""),
                "Code": code,
                "Message": answer.message,
                "Recommend": "",
            }
        return self.json_response(body, answer.status)


def _typed(schema: dict[str, Any], name: str, value: str) -> Any:
    """A form value as the contract types its field: integer text becomes an int, any
    other text stays text (and breaks the field's type rule)."""
    field = (schema.get("properties") or {}).get(name)
    if field is None:
        field = next((s for p, s in (schema.get("patternProperties") or {}).items() if re.search(p, name)), {})
    if field.get("type") == "integer" and re.fullmatch(r"[+-]?\d{1,18}", value):
        return int(value)
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) else default


def _mappings(form: dict[str, Any]) -> list[Mapping]:
    fields: dict[int, dict[str, Any]] = {}
    for name, value in form.items():
        match = MAPPING_KEY.match(name)
        if match:
            fields.setdefault(int(match.group(1)), {})[MAPPING_FIELDS[match.group(2)]] = value
    return [Mapping(index=n, **{k: (v if k == "size" else str(v)) for k, v in fields[n].items()})
            for n in sorted(fields)]


def _matches(image: Resource, form: dict[str, Any]) -> bool:
    attrs = image.attributes
    wanted_ids = [i for i in str(form.get("ImageId", "")).split(",") if i]
    wanted_status = [s for s in str(form.get("Status", "")).split(",") if s]
    snapshot_ids = {d.get("snapshot_id") for d in attrs.get("disks") or []}
    return ((not wanted_ids or image.id in wanted_ids)
            and ("ImageName" not in form or attrs.get("name") == form["ImageName"])
            and ("SnapshotId" not in form or form["SnapshotId"] in snapshot_ids)
            and (not wanted_status or attrs.get("status") in wanted_status))


def _image_body(image: Resource) -> dict[str, Any]:
    attrs = image.attributes
    body: dict[str, Any] = {
        "ImageId": image.id,
        "ImageName": attrs.get("name") or "",
        "Description": attrs.get("description") or "",
        "Status": attrs.get("status"),
        "Progress": attrs.get("progress", "100%"),
        "ImageOwnerAlias": "self",
        "CreationTime": attrs.get("creation_time", ""),
        "Tags": {"Tag": [{"TagKey": t.get("key"), "TagValue": t.get("value")} for t in attrs.get("tags") or []]},
        "DiskDeviceMappings": {"DiskDeviceMapping": [
            {"Device": d.get("device"), "Size": str(d.get("size_gb")), "SnapshotId": d.get("snapshot_id") or "",
             "Type": d.get("type")}
            for d in attrs.get("disks") or []
        ]},
    }
    optional = {"Platform": "platform", "Architecture": "architecture", "OSType": "os_type",
                "ResourceGroupId": "resource_group_id", "InstanceId": "instance_id"}
    body.update({wire: attrs[key] for wire, key in optional.items() if attrs.get(key) is not None})
    if isinstance(attrs.get("size_gb"), int):
        body["Size"] = attrs["size_gb"]
    return body


DIALECT = ApsaraEcsDialect
