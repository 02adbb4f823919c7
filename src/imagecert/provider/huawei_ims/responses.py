"""Huawei IMS wire format: parse a call, ask the model, render the answer.

Bodies are checked against the contract (`check_body`), so the schema's
`x-constraint` marks choose the IMG code of a bad body. Every error body is
`{"error": {"code", "message"}}` with the fixed English text 错误码 gives for the code
(IMS never echoes details), or, for a status whose row names no code, the row's text.
"""

from __future__ import annotations

import json
import random
import string
import time
import uuid
from typing import Any

from starlette.responses import Response

from imagecert.provider.dialect import Call, Dialect, Handler
from imagecert.provider.huawei_ims.models import (
    IMAGE_STATES,
    IMAGE_STAYS_SAVING,
    JOB_NEVER_ENDS,
    JOB_STATES,
    HuaweiIms,
    WholeImageJob,
    WholeImageRequest,
)
from imagecert.provider.rules import Answer, Defect
from imagecert.provider.store import Resource

EMPTY_BODY = "IMS-C029"

# Defects for behaviour a catalog `expect` cannot express.
UNKNOWN_JOB_ID = "IMS:unknown-job-id"
JOB_STATUS_LOWERCASE = "IMS:job-status-lowercase"
JOB_WITHOUT_IMAGE_ID = "IMS:job-without-image-id"
IMAGE_NOT_WHOLE = "IMS:image-not-whole"
IMAGE_WITHOUT_BACKUP_ID = "IMS:image-without-backup-id"
ERROR_BODY_FLAT = "IMS:error-body-flat"
ENTERPRISE_PROJECT_REFUSED = "IMS:enterprise-project-refused"
BACKUP_IMAGE_TAGS_REFUSED = "IMS:backup-image-tags-refused"

IMS_DEFECTS = (
    Defect(JOB_NEVER_ENDS, "IMS-B001", "the job a create starts never ends, not even when settled"),
    Defect(UNKNOWN_JOB_ID, "IMS-P017", "the create answers a job_id the job query does not know"),
    Defect(JOB_STATUS_LOWERCASE, "IMS-B002", "the job query writes its status in lower case (success, running)"),
    Defect(JOB_WITHOUT_IMAGE_ID, "IMS-B003", "a SUCCESS job has no entities.image_id"),
    Defect(IMAGE_NOT_WHOLE, "IMS-B004", "the image made says __whole_image false"),
    Defect(IMAGE_WITHOUT_BACKUP_ID, "IMS-B005", "an image made from a backup has no __backup_id"),
    Defect(IMAGE_STAYS_SAVING, "IMS-B006", "the image of a SUCCESS job stays saving"),
    Defect(ERROR_BODY_FLAT, "IMS-B007", 'errors answer {"error_code", "error_msg"} instead of {"error": {...}}'),
    Defect(ENTERPRISE_PROJECT_REFUSED, "IMS-D004", "enterprise_project_id is refused as undocumented (the en tables)"),
    Defect(BACKUP_IMAGE_TAGS_REFUSED, "IMS-D005", "image_tags with backup_id is refused (the zh backup table)"),
)

JOB_TYPE = "createWholeImage"
CURRENT_TASK = {"instance": "CreateWholeImageByInstanceTask", "backup": "CreateWholeImageByBackupTask"}
HEX = "0123456789abcdef"


class HuaweiImsDialect(Dialect):
    name = "huawei-ims"
    schemes = ("huawei-aksk", "token")
    malformed_rule = "IMS-C028"
    unauthorized_rule = "IMS-R002"
    forbidden_rule = "IMS-R003"
    not_found_rule = "IMS-R004"
    extra_defects = IMS_DEFECTS

    def __init__(self, store, rules, settings):
        super().__init__(store, rules, settings)
        self.model = HuaweiIms(store, rules, settings.job_seconds, settings.finished_jobs_kept)
        # 错误码's English text for each code the catalog answers with
        self.documented_messages = {
            e.expect.code: e.expect.message
            for e in rules.catalog.entries
            if e.expect is not None and e.expect.code and e.expect.message
        }

    def handlers(self) -> dict[str, Handler]:
        return {
            "createWholeImage": self.create_whole_image,
            "showJob": self.show_job,
            "glanceShowImage": self.glance_show_image,
            "glanceDeleteImage": self.glance_delete_image,
        }

    # operations --------------------------------------------------------------------
    def create_whole_image(self, call: Call) -> Response:
        self.rules.require(EMPTY_BODY, bool(call.body.strip()))
        data = self._json(call)
        if isinstance(data, dict):
            self.rules.require(self.malformed_rule,
                               not (self.rules.on(ENTERPRISE_PROJECT_REFUSED) and "enterprise_project_id" in data))
            self.rules.require(self.malformed_rule,
                               not (self.rules.on(BACKUP_IMAGE_TAGS_REFUSED) and {"backup_id", "image_tags"} <= set(data)))
        self.check_body(call, data)
        job = self.model.create_whole_image(call.tenant.id, _request(data if isinstance(data, dict) else {}))
        job_id = uuid.uuid4().hex if self.rules.on(UNKNOWN_JOB_ID) else job.id
        return self.json_response({"job_id": job_id}, 200, self._headers(call))

    def show_job(self, call: Call) -> Response:
        in_project = call.path_params["project_id"] == call.tenant.scope.get("project_id")
        job = self.model.job(call.tenant.id, call.path_params["job_id"], in_project)
        return self.json_response(self._job_body(job), 200, self._headers(call))

    def glance_show_image(self, call: Call) -> Response:
        image = self.model.image(call.tenant.id, call.path_params["image_id"])
        return self.json_response(self._image_body(image, call.tenant.scope.get("project_id", "")), 200,
                                  self._headers(call))

    def glance_delete_image(self, call: Call) -> Response:
        data: Any = {}
        if call.body.strip():
            data = self._json(call)
            self.check_body(call, data)
        delete_backup = isinstance(data, dict) and data.get("delete_backup") is True
        self.model.delete_image(call.tenant.id, call.path_params["image_id"], delete_backup)
        return Response(status_code=204, headers=self._headers(call))

    # rendering -----------------------------------------------------------------------
    def _job_body(self, job: WholeImageJob) -> dict[str, Any]:
        entities: dict[str, Any] = {
            "image_name": job.image_name,
            "current_task": CURRENT_TASK[job.source_kind],
            "process_percent": job.progress(time.time()),
        }
        if job.status == JOB_STATES["succeeded"] and not self.rules.on(JOB_WITHOUT_IMAGE_ID):
            entities["image_id"] = job.image_id
        return {
            "status": job.status.lower() if self.rules.on(JOB_STATUS_LOWERCASE) else job.status,
            "job_id": job.id,
            "job_type": JOB_TYPE,
            "begin_time": _utc(job.begun),
            "end_time": _utc(job.ended) if job.ended is not None else "",
            "error_code": job.error_code,
            "fail_reason": job.fail_reason,
            "entities": entities,
        }

    def _image_body(self, image: Resource, project_id: str) -> dict[str, Any]:
        attrs = image.attributes
        disks = attrs.get("disks") or [{}]
        body: dict[str, Any] = {
            "id": image.id,
            "name": attrs.get("name") or "",
            "status": attrs.get("status", IMAGE_STATES["usable"]),
            "visibility": "private",
            "owner": project_id,
            "protected": False,
            "min_ram": attrs.get("min_ram") or 0,
            "min_disk": (disks[0] or {}).get("size_gb") or 0,
            "tags": list(attrs.get("tags") or []),
            "created_at": _utc(attrs.get("created_at") or image.created_at),
            "updated_at": _utc(attrs.get("updated_at") or image.created_at),
            "enterprise_project_id": attrs.get("enterprise_project_id") or "0",
            "disk_format": "zvhd2",
            "container_format": "bare",
            "virtual_env_type": "FusionCompute",
            "self": f"/v2/images/{image.id}",
            "file": f"/v2/images/{image.id}/file",
            "schema": "/v2/schemas/image",
            "__description": attrs.get("description") or "",
            "__imagetype": "private",
            "__isregistered": "true",
            "__os_type": attrs.get("os_type") or "Linux",
            # Glance keeps extension properties as strings
            "__whole_image": "false" if self.rules.on(IMAGE_NOT_WHOLE) else str(bool(attrs.get("whole_image", True))).lower(),
        }
        if attrs.get("max_ram") is not None:
            body["max_ram"] = str(attrs["max_ram"])
        if attrs.get("backup_id") and not self.rules.on(IMAGE_WITHOUT_BACKUP_ID):
            body["__backup_id"] = attrs["backup_id"]
        return body

    def error_response(self, answer: Answer, call: Call | None) -> Response:
        message = self.documented_messages.get(answer.code or "")
        if message is None and answer.code is None:
            row = self.rules.return_code(answer.status)
            message = row.message if row is not None else None
        message = message or answer.message
        if self.rules.on(ERROR_BODY_FLAT):
            body: dict[str, Any] = {"error_code": answer.code, "error_msg": message}
        else:
            body = {"error": {"code": answer.code, "message": message}}
        return self.json_response(body, answer.status, self._headers(call))

    # wiring --------------------------------------------------------------------------
    def _json(self, call: Call) -> Any:
        """The JSON body; a body of another declared media type is not of the documented form."""
        media = call.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        self.rules.require(self.malformed_rule, media in ("application/json", ""))
        try:
            return json.loads(call.body)
        except (ValueError, RecursionError):
            self.rules.require(self.malformed_rule, False)
            return {}

    @staticmethod
    def _headers(call: Call | None) -> dict[str, str]:
        return {"X-Request-Id": call.request_id} if call is not None else {}

    def credentials(self, tenant_id: str, rng: random.Random) -> tuple[dict[str, str], dict[str, str]]:
        auth = {
            "scheme": "huawei-aksk",
            "access_key": self.random_text(rng, 20, string.ascii_uppercase + string.digits),
            "secret_key": self.random_text(rng, 40),
            "token": self.random_text(rng, 64),
        }
        return auth, {"project_id": self.random_text(rng, 32, HEX)}

    def default_attributes(self, kind: str) -> dict[str, Any]:
        if kind == "instance":
            return {
                "status": "ACTIVE",
                "os_type": "Linux",
                "az": "cn-north-4a",
                "task": None,
                "system_disk": {"category": "cloud", "attached": True, "mount_state": "attached",
                                "size_gb": 40, "dedicated_storage": False},
                "data_disks": [],
                "spanned_volume": False,
                "multi_pv_volume_group": False,
                "san_policy": "OnlineAll",
            }
        if kind == "backup":
            return {"status": "available", "shared_disks": [], "image_id": None, "os_type": "Linux",
                    "az": "cn-north-4a"}
        if kind == "image":
            return {"status": IMAGE_STATES["usable"], "name": "image", "whole_image": True, "source": None, "disks": [],
                    "az": "cn-north-4a"}
        return {}


def _request(data: dict[str, Any]) -> WholeImageRequest:
    """The create's fields. The contract has checked them, unless a defect switched a
    rule off: then whatever came is read without failing."""

    def text(value: Any) -> str:
        return value if isinstance(value, str) else "" if value is None else json.dumps(value)

    tags = data.get("tags") if isinstance(data.get("tags"), list) else []
    image_tags = data.get("image_tags") if isinstance(data.get("image_tags"), list) else []
    return WholeImageRequest(
        name=text(data.get("name")),
        description=text(data.get("description")),
        tags=[text(t) for t in tags],
        image_tags=[{"key": text(t.get("key")), "value": text(t.get("value"))} for t in image_tags if isinstance(t, dict)],
        instance_id=text(data.get("instance_id")) if "backup_id" not in data else None,
        backup_id=text(data["backup_id"]) if "backup_id" in data else None,
        enterprise_project_id=text(data.get("enterprise_project_id")) or "0",
        min_ram=data.get("min_ram", 0),
        max_ram=data.get("max_ram"),
    )


def _utc(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


DIALECT = HuaweiImsDialect
