"""The control protocol (contracts/control.openapi.yaml) over the provider's store.

Requests are validated against the control contract itself, so the document and the
server cannot drift apart; a refused call changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from functools import cache
from typing import TYPE_CHECKING, Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource as SchemaResource
from referencing.jsonschema import DRAFT202012
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imagecert.contracts import contracts_dir, pointer
from imagecert.provider.store import KINDS, NotFound, Resource, Tenant

if TYPE_CHECKING:
    from imagecert.provider.app import Provider

PROTOCOL = "1"
BODY_SECONDS = 30  # a body slower than this is refused, not waited for


class BadCall(ValueError):
    """The control call is malformed (400)."""


@cache
def _contract() -> dict[str, Any]:
    return yaml.safe_load((contracts_dir() / "control.openapi.yaml").read_text("utf-8"))


@cache
def _validator(path: str, method: str) -> Draft202012Validator:
    registry = Registry().with_resource(
        "urn:imagecert:control", SchemaResource.from_contents(_contract(), default_specification=DRAFT202012)
    )
    where = pointer("paths", path, method, "requestBody", "content", "application/json", "schema")
    return Draft202012Validator({"$ref": f"urn:imagecert:control#{where}"}, registry=registry)


async def _body(request: Request, path: str) -> dict[str, Any]:
    try:
        raw = await asyncio.wait_for(request.body(), BODY_SECONDS)
    except asyncio.TimeoutError:
        raise BadCall(f"the body did not arrive within {BODY_SECONDS} s") from None
    try:
        data = json.loads(raw or b"null")
    except ValueError as error:
        raise BadCall(f"the body is not JSON: {error}") from None
    except RecursionError:
        raise BadCall(f"the body is nested deeper than {MAX_DEPTH} levels") from None
    _storable(data)
    errors = sorted(_validator(path, request.method.lower()).iter_errors(data), key=lambda e: e.path)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "body"
        raise BadCall(f"{where}: {errors[0].message}")
    return data


MAX_DEPTH = 32  # far more than any resource needs; a deeper body is refused, never stored


def _storable(data: Any) -> None:
    """Refuse what the provider could not keep and answer again: a body nested deeper
    than MAX_DEPTH, or text that is not Unicode (a lone surrogate such as "\\ud800")."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BadCall(f"the body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            pending.extend((k, depth) for k in value)
            pending.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            pending.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadCall("the body holds text that is not Unicode (a lone surrogate)") from None


def routes(provider: "Provider") -> list[Route]:
    store = provider.store
    outline = provider.settings.control_outline

    def answer(handler):
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except BadCall as error:
                return JSONResponse({"error": str(error)}, status_code=400)
            except NotFound as error:
                return JSONResponse({"error": str(error)}, status_code=404)

        return endpoint

    async def describe(request: Request) -> Response:
        return JSONResponse({"protocol": PROTOCOL, "dialects": sorted(provider.dialects),
                             "defects": sorted(provider.defects), "extensions": list(EXTENSIONS)})

    async def create_tenant(request: Request) -> Response:
        data = await _body(request, "/tenants")
        tenant = provider.new_tenant(data["dialect"], data.get("permissions", "full"))
        return JSONResponse(tenant.public(), status_code=201)

    async def delete_tenant(request: Request) -> Response:
        store.remove_tenant(request.path_params["tenant_id"])
        return Response(status_code=204)

    async def quotas(request: Request) -> Response:
        tenant = store.tenant(request.path_params["tenant_id"])
        if request.method == "PUT":
            data = await _body(request, "/tenants/{tenant_id}/quotas")
            with store.lock:
                tenant.quotas.update(data)
        return JSONResponse(store.usage(tenant.id))

    async def resources(request: Request) -> Response:
        if request.method == "GET":
            tenant_id = request.query_params.get("tenant_id")
            if not tenant_id:
                raise BadCall("the query needs tenant_id")
            kind = request.query_params.get("kind")
            if kind is not None and kind not in KINDS:
                raise BadCall(f"kind must be one of {', '.join(KINDS)}")
            store.tenant(tenant_id)
            with store.lock:
                store.advance(tenant_id)
                found = [r.public() for r in store.find(tenant_id, kind)]
            return JSONResponse({"resources": found})
        data = await _body(request, "/resources")
        tenant = store.tenant(data["tenant_id"])
        dialect = provider.dialects[tenant.dialect]
        attributes = {**dialect.default_attributes(data["kind"]), **(data.get("attributes") or {})}
        resource = store.add(Resource(dialect.new_id(data["kind"]), data["kind"], tenant.id, attributes))
        return JSONResponse(resource.public(), status_code=201)

    async def resource(request: Request) -> Response:
        resource_id = request.path_params["id"]
        if request.method == "PATCH":
            data = await _body(request, "/resources/{id}")
            with store.lock:
                found = store.get(resource_id)
                found.attributes.update(data["attributes"])
        with store.lock:
            found = store.get(resource_id)
            store.advance(found.tenant_id)
            return JSONResponse(found.public())

    async def faults(request: Request) -> Response:
        data = await _body(request, "/faults")
        tenant = store.tenant(data["tenant_id"])
        known = set(provider.dialects[tenant.dialect].operations()) | {"*"}
        if data["operation"] not in known:
            raise BadCall(f"operation must be one of {', '.join(sorted(known))}")
        code = None if outline else data.get("code")  # faults.code: an extension the outline leaves out
        if code is not None:
            rules = provider.dialects[tenant.dialect].rules
            documented = sorted({str(e.code) for e in rules.catalog.of_kind("return-code")
                                 if e.http_status == data["status"] and e.code is not None})
            if code not in documented:
                raise BadCall(f"code must be one the {tenant.dialect} documents for HTTP {data['status']}: "
                              f"{', '.join(documented) or 'none'}")
        fault = store.arm_fault(tenant.id, data["operation"], data["status"], data.get("count", 1), code)
        return JSONResponse({"fault_id": fault.id, "remaining": fault.remaining}, status_code=201)

    async def settle(request: Request) -> Response:
        data = await _body(request, "/jobs/settle")
        store.tenant(data["tenant_id"])
        success = outline or data.get("outcome", "success") == "success"
        settled = store.advance(data["tenant_id"], everything=True, success=success)
        return JSONResponse({"settled": settled})

    async def unknown(request: Request) -> Response:
        return JSONResponse({"error": f"no control call {request.method} {request.url.path}"}, status_code=404)

    if outline:  # the outline's calls alone: everything else answers as an unknown path
        return [
            Route("/tenants", answer(create_tenant), methods=["POST"]),
            Route("/tenants/{tenant_id}/quotas", answer(quotas), methods=["PUT"]),
            Route("/resources", answer(resources), methods=["POST"]),
            Route("/resources/{id}", answer(resource), methods=["GET", "PATCH"]),
            Route("/faults", answer(faults), methods=["POST"]),
            Route("/jobs/settle", answer(settle), methods=["POST"]),
            Route("/{rest:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
    return [
        Route("/", answer(describe), methods=["GET"]),
        Route("/tenants", answer(create_tenant), methods=["POST"]),
        Route("/tenants/{tenant_id}", answer(delete_tenant), methods=["DELETE"]),
        Route("/tenants/{tenant_id}/quotas", answer(quotas), methods=["GET", "PUT"]),
        Route("/resources", answer(resources), methods=["GET", "POST"]),
        Route("/resources/{id}", answer(resource), methods=["GET", "PATCH"]),
        Route("/faults", answer(faults), methods=["POST"]),
        Route("/jobs/settle", answer(settle), methods=["POST"]),
        Route("/{rest:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]


# What `GET /` announces: the x-imagecert-extension names of control.openapi.yaml served here.
EXTENSIONS = ("resources.list", "quotas.read", "tenants.delete", "jobs.settle.outcome", "faults.code")


def new_tenant_id() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


__all__ = ["routes", "new_tenant_id", "Tenant"]
