"""JD Cloud VM wire format: parse the call, ask the model, render the JD answer.

Success bodies are {"requestId", "result": {…}}; every refusal is
{"requestId", "error": {"code": <HTTP status>, "status": <错误码>, "message"}}
(reference/provider-facts.md), which jdcloud-sdk reads only with a requestId.
"""

from __future__ import annotations

import base64
import binascii

import http
import random
import re
import string
import uuid
from functools import cache
from typing import Any, Callable

from starlette.responses import Response

from imagecert.contracts import decodes_to, load_contract
from imagecert.provider.dialect import Call, Dialect, Handler, Settings
from imagecert.provider.jdcloud_vm import models
from imagecert.provider.rules import UNCHECKED, Answer, Defect, ProviderError, Rules
from imagecert.provider.store import NotFound, Resource, Store


def _dev_region() -> str:
    """The region development tenants live in: the contract's example regionId."""
    return load_contract("jdcloud-vm")["components"]["parameters"]["regionId"]["example"]


DATA_DISKS_RULE = "JD-P005"
VOUCHER_RULE = "JD-D011"  # what buyScenario decodes to (the reading imagecert holds: refused)


@cache
def _voucher_schema() -> str:
    """The schema buyScenario decodes to (`x-imagecert-decoded` in the contract)."""
    charge = load_contract("jdcloud-vm")["components"]["schemas"]["ChargeSpec"]
    return charge["properties"]["buyScenario"]["x-imagecert-decoded"]


def _vouchers(body: dict[str, Any]) -> list[str]:
    """Every buyScenario the body's data disks give (strings only: the schema checked the rest)."""
    found = []
    for disk in body.get("dataDisks") or []:
        spec = disk.get("cloudDiskSpec") if isinstance(disk, dict) else None
        charge = spec.get("charge") if isinstance(spec, dict) else None
        voucher = charge.get("buyScenario") if isinstance(charge, dict) else None
        if isinstance(voucher, str):
            found.append(voucher)
    return found


@cache
def _device_names() -> int:
    """How many data disks an image can have: the device names the contract's deviceName
    pattern allows (vdb~vdbm); a longer dataDisks is refused before it is validated."""
    spec = load_contract("jdcloud-vm")["components"]["schemas"]["InstanceDiskAttachmentSpec"]
    pattern = re.compile(spec["properties"]["deviceName"]["pattern"])
    letters = string.ascii_lowercase
    names = [f"vd{a}" for a in letters] + [f"vd{a}{b}" for a in letters for b in letters]
    return sum(1 for name in names if pattern.search(name))


class JdcloudVmDialect(Dialect):
    name = "jdcloud-vm"
    schemes = ("jdcloud-hmac",)
    malformed_rule = "JD-C012"
    unauthorized_rule = "JD-C013"
    forbidden_rule = "JD-C014"
    not_found_rule = "JD-C011"
    extra_defects = (
        Defect(models.NEVER_READY, "JD-B001", "images made never leave pending (the job never ends)"),
    )

    def __init__(self, store: Store, rules: Rules, settings: Settings):
        super().__init__(store, rules, settings)
        self.model = models.JdcloudVm(store, rules, settings.job_seconds)

    def handlers(self) -> dict[str, Handler]:
        return {
            "createImage": self._guarded(self.create_image),
            "describeImage": self._guarded(self.describe_image),
            "deleteImage": self._guarded(self.delete_image),
        }

    def credentials(self, tenant_id: str, rng: random.Random) -> tuple[dict[str, str], dict[str, str]]:
        auth = {
            "scheme": "jdcloud-hmac",
            "access_key": self.random_text(rng, 32, "0123456789ABCDEF"),
            "secret_key": self.random_text(rng, 32, "0123456789ABCDEF"),
        }
        return auth, {"region_id": _dev_region()}

    def new_id(self, kind: str) -> str:
        return models.new_id(kind)

    def default_attributes(self, kind: str) -> dict[str, Any]:
        if kind == "instance":
            return {
                "status": models.IMAGEABLE_STATUS[0],
                "os_type": "Linux",
                "az": _dev_region() + "a",
                "task": None,
                "system_disk": {"category": "cloud", "attached": True, "mount_state": models.MOUNTED, "size_gb": 40},
                "data_disks": [],
            }
        if kind == "snapshot":
            return {"size_gb": 40, "status": "available"}
        if kind == "image":
            return {"status": models.IMAGE_STATES["done"], "name": "image", "desc": "",
                    "rootDeviceType": models.ROOT_DEVICE_TYPES["cloud"], "dataDisks": []}
        return {}

    # operations ---------------------------------------------------------------
    def create_image(self, call: Call) -> Response:
        data = self._body(call)
        disks = data.get("dataDisks") if isinstance(data, dict) else None
        self.rules.require(DATA_DISKS_RULE, not isinstance(disks, list) or len(disks) <= _device_names(),
                           message=f"dataDisks holds {len(disks or [])} disks; an image has at most "
                                   f"{_device_names()} (deviceName vdb~vdbm).")
        self.check_body(call, data)
        body = data if isinstance(data, dict) else {}
        for voucher in filter(_is_base64, _vouchers(body)):  # text that is not Base64 is JD-P026's
            self.rules.require(VOUCHER_RULE, decodes_to(self.name, _voucher_schema(), voucher),
                               message='buyScenario must decode to {"activity": {"activityType", "activityIdentifier"}}.')
        image = self.model.create_image(
            call.tenant.id, call.path_params["instanceId"], body.get("name"), body.get("description"),
            body.get("dataDisks"),
        )
        return self._result(call, {"imageId": image.id})

    def describe_image(self, call: Call) -> Response:
        image = self.model.image(call.tenant.id, call.path_params["imageId"])
        return self._result(call, {"image": self._image(image)})

    def delete_image(self, call: Call) -> Response:
        delete_snapshots = call.query.get("deleteSnapshot", "false").lower() == "true"
        self.model.delete_image(call.tenant.id, call.path_params["imageId"], delete_snapshots)
        return self.json_response({"requestId": call.request_id})

    # answers ------------------------------------------------------------------
    def error_response(self, answer: Answer, call: Call | None) -> Response:
        request_id = call.request_id if call is not None else uuid.uuid4().hex
        status_word = answer.code or http.HTTPStatus(answer.status).name
        body = {"requestId": request_id, "error": {"code": answer.status, "status": status_word, "message": answer.message}}
        return self.json_response(body, answer.status)

    def refuse(self, error: ProviderError, call: Call | None) -> Response:
        """A refusal the application raises itself (an unknown path, a body too large) with
        its rule switched off by a defect: answered as an empty success, as a careless
        gateway would."""
        if self.rules.on(f"{error.rule_id}:{UNCHECKED}"):
            return self.json_response({"requestId": call.request_id if call else uuid.uuid4().hex, "result": {}})
        return super().refuse(error, call)

    def _body(self, call: Call) -> Any:
        try:
            return call.json()
        except ValueError as error:
            self.rules.require(self.malformed_rule, False, message=f"The request body is not valid JSON: {error}")
            return None

    def _result(self, call: Call, result: dict[str, Any]) -> Response:
        return self.json_response({"requestId": call.request_id, "result": result})

    def _guarded(self, handler: Callable[[Call], Response]) -> Handler:
        """A resource the model could not find after its not-found rule was switched off by a
        defect: answer as a careless provider would, 200 with nothing in it, never 5xx."""
        def run(call: Call) -> Response:
            try:
                return handler(call)
            except NotFound:
                return self._result(call, {})

        return run

    @staticmethod
    def _image(image: Resource) -> dict[str, Any]:
        attrs = image.attributes
        fields = ("name", "status", "desc", "rootDeviceType", "instanceId", "createTime", "snapshotId",
                  "systemDisk", "dataDisks")
        return {"imageId": image.id, "imageSource": "private", **{f: attrs.get(f) for f in fields}}


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


DIALECT = JdcloudVmDialect
