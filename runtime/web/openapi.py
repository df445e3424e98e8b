"""OpenAPI 3 built from the live metadata, and Swagger UI served from the package (offline)."""
from __future__ import annotations

from apispec import APISpec
from flask import Blueprint, current_app, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from metamodel import title_text
from runtime.data.query import OPS

bp = Blueprint("docs", __name__)

_TYPES = {
    "string": {"type": "string"}, "text": {"type": "string"}, "email": {"type": "string", "format": "email"},
    "phone": {"type": "string"}, "integer": {"type": "integer", "format": "int64"},
    "decimal": {"type": "string", "format": "decimal"}, "money": {"type": "string", "format": "decimal"},
    "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"}, "link": {"type": "integer"},
    "user": {"type": "integer"}, "group": {"type": "integer"},
}
_SYSTEM = {
    "id": {"type": "integer", "readOnly": True}, "number": {"type": "string", "readOnly": True},
    "status": {"type": "string", "nullable": True}, "created_at": {"type": "string", "format": "date-time", "readOnly": True},
    "created_by": {"type": "integer", "nullable": True, "readOnly": True},
    "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
    "updated_by": {"type": "integer", "nullable": True, "readOnly": True},
    "row_version": {"type": "integer", "description": "send it back on update (or If-Match) for optimistic locking"},
    "meta_version": {"type": "integer", "readOnly": True},
    "deleted_at": {"type": "string", "format": "date-time", "nullable": True, "readOnly": True},
}


def field_schema(f) -> dict:
    desc = title_text(f.title, "en")
    if f.storage == "child":
        props = {c.name: field_schema(c) if c.type != "file" else {
            "type": "integer", "nullable": True, "description": f"{title_text(c.title, 'en')} (the id of one of the "
            f"record's files; a new one is a multipart part {f.name}[row].{c.name})"} for c in f.children.values()}
        return {"type": "array", "description": desc, "items": {"type": "object", "properties": props}}
    if f.storage == "assoc":
        return {"type": "array", "description": desc, "items": {"type": "integer"}}
    if f.storage == "attachments":
        return {"type": "array", "readOnly": True, "description": f"{desc} (files: upload them as multipart parts)",
                "items": {"type": "object"}}
    if f.storage == "point":
        return {"type": "object", "nullable": not f.required, "required": ["lat", "lon"],
                "description": desc + " (WGS 84 degrees; filter: <field>__near=lat,lon,radius_m)",
                "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
                               "lon": {"type": "number", "minimum": -180, "maximum": 180}}}
    out = dict(_TYPES[f.value_type] if f.value_type in _TYPES else {"type": "string"})
    out["description"] = desc
    out["nullable"] = not f.required
    if f.type in ("computed", "rollup"):
        out["readOnly"] = True
    if f.value_type == "choice":
        out["enum"] = [c.value for c in f.choices] or None
    if f.max_length and out.get("type") == "string" and f.value_type not in ("decimal", "money"):
        out["maxLength"] = f.max_length
    if "pattern" in f.spec:
        out["pattern"] = f.spec["pattern"]
    if f.target:
        out["description"] += f" (id of {f.target})"
    return {k: v for k, v in out.items() if v is not None}


def _multipart(entity) -> dict:
    """A create with its files: the record as JSON in ``record``, a part per file field and per
    table row's file (``items[0].photo``)."""
    binary = {"type": "string", "format": "binary"}
    props = {"record": {"type": "string", "description": "the record as a JSON object"}}
    for f in entity.fields.values():
        if f.storage == "attachments":
            props[f.name] = {"type": "array", "items": binary} if f.spec.get("multiple") else binary
        for c in f.children.values():
            if c.type == "file":
                props[f"{f.name}[0].{c.name}"] = {**binary, "description": f"the file of row 0 of {f.name}"}
    return {"type": "object", "properties": props}


def build_spec(loom) -> dict:
    spec = APISpec(title="Loom API", version="1", openapi_version="3.0.3",
                   info={"description": "Generated from the published app metadata."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", {"type": "object", "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "message": {"type": "string"}}}}}})
    problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    errors = {str(code): {"description": text, **problem} for code, text in
              ((401, "not signed in"), (403, "not allowed"), (404, "no such record"), (422, "invalid values"))}
    for app_name, live in sorted(loom.live.items()):
        for entity in live.app.entities.values():
            name = f"{app_name}.{entity.name}"
            props = dict(_SYSTEM)
            props.update({f.name: field_schema(f) for f in entity.fields.values()})
            required = [f.name for f in entity.fields.values() if f.required and f.type != "computed"]
            spec.components.schema(name, {"type": "object", "properties": props, "required": required or None}
                                   if required else {"type": "object", "properties": props})
            ref = {"$ref": f"#/components/schemas/{name}"}
            one = {"200": {"description": "the record", "content": {"application/json": {"schema": ref}}}, **errors}
            filters = []
            for f in entity.fields.values():
                if f.storage == "column":
                    filters.append({"name": f.name, "in": "query", "required": False, "schema": {"type": "string"},
                                    "description": f"filter; also {f.name}__<op> with op in {', '.join(OPS)}"})
            common = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
                      for n, d in (("sort", "comma-separated fields, '-' for descending"),
                                   ("limit", "page size, at most 500"), ("after", "cursor from the previous page"),
                                   ("q", "full-text search"), ("count", "'capped' or 'exact'"),
                                   ("view", "a list view from the metadata"))]
            tag = title_text(entity.plural, "en")
            base = f"/api/v1/{app_name}/{entity.name}"
            spec.path(path=base, operations={
                "get": {"tags": [tag], "summary": f"List {tag}", "parameters": common + filters,
                        "responses": {"200": {"description": "a page", "content": {"application/json": {"schema": {
                            "type": "object", "properties": {"items": {"type": "array", "items": ref},
                                                             "next": {"type": "string", "nullable": True},
                                                             "count": {"type": "integer", "nullable": True}}}}}},
                                      **errors}},
                "post": {"tags": [tag], "summary": f"Create a {title_text(entity.title, 'en')}",
                         "requestBody": {"content": {"application/json": {"schema": ref},
                                                     "multipart/form-data": {"schema": _multipart(entity)}}},
                         "responses": {"201": one["200"], **errors}},
            })
            id_param = [{"name": "record_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
            spec.path(path=base + "/{record_id}", operations={
                "get": {"tags": [tag], "parameters": id_param, "responses": one},
                "patch": {"tags": [tag], "parameters": id_param + [
                    {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                     "description": "the row_version you edited"}],
                    "requestBody": {"content": {"application/json": {"schema": ref}}},
                    "responses": {**one, "409": {"description": "changed by someone else", **problem}}},
                "delete": {"tags": [tag], "parameters": id_param, "responses": one},
            })
            approvals = [a["name"] for a in live.app.section("approvals").get("approvals", [])
                         if a["entity"].split(".")[-1] == entity.name]
            if approvals:
                _approval_paths(spec, base, tag, id_param, approvals, errors, problem)
    out = spec.to_dict()
    out["security"] = [{"bearer": []}]
    return out


_ROUND = {"type": "object", "properties": {
    "id": {"type": "integer"}, "approval": {"type": "string"}, "round": {"type": "integer"},
    "state": {"type": "string", "enum": ["open", "approved", "rejected", "expired", "cancelled"]},
    "need": {"type": "integer", "description": "approvals that decide the round"},
    "approvers": {"type": "integer"}, "approved": {"type": "integer"}, "rejected": {"type": "integer"},
    "opened_at": {"type": "string", "format": "date-time"},
    "deadline_at": {"type": "string", "format": "date-time", "nullable": True},
    "decided_at": {"type": "string", "format": "date-time", "nullable": True},
    "transition": {"type": "string", "nullable": True}, "can_vote": {"type": "boolean"},
    "votes": {"type": "array", "items": {"type": "object", "properties": {
        "user": {"type": "string"}, "name": {"type": "string"},
        "decision": {"type": "string", "enum": ["approve", "reject"], "nullable": True},
        "comment": {"type": "string", "nullable": True},
        "voted_at": {"type": "string", "format": "date-time", "nullable": True}}}}}}


def _approval_paths(spec, base: str, tag: str, id_param: list, names: list, errors: dict, problem: dict) -> None:
    """The approval rounds of a record and the vote of an approver (docs/behaviour.md, "Approvals")."""
    if "ApprovalRound" not in spec.components.schemas:
        spec.components.schema("ApprovalRound", _ROUND)
    ref = {"$ref": "#/components/schemas/ApprovalRound"}
    spec.path(path=base + "/{record_id}/approvals", operations={"get": {
        "tags": [tag], "summary": "Approval rounds with their votes, newest first", "parameters": id_param,
        "responses": {"200": {"description": "the rounds", "content": {"application/json": {"schema": {
            "type": "array", "items": ref}}}}, **errors}}})
    name_param = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": names}}
    spec.path(path=base + "/{record_id}/approvals/{name}/votes", operations={"post": {
        "tags": [tag], "summary": "Vote in the open round (approvers only, once)",
        "parameters": id_param + [name_param],
        "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["decision"],
                                                                     "properties": {
            "decision": {"type": "string", "enum": ["approve", "reject"]}, "comment": {"type": "string"}}}}}},
        "responses": {"200": {"description": "the round after the vote",
                              "content": {"application/json": {"schema": ref}}},
                      **errors, "409": {"description": "no open round, or already voted", **problem}}}})


@bp.get("/api/v1/openapi.json")
def openapi_json():
    loom = current_app.extensions["loom"]
    loom.refresh_if_stale()
    return jsonify(build_spec(loom))


@bp.get("/api/docs/")
def swagger_ui():
    return _INDEX


@bp.get("/api/docs/<path:name>")
def swagger_asset(name: str):
    return send_from_directory(swagger_ui_path, name)


_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Loom API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/api/v1/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>"""
