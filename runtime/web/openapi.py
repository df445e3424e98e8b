"""OpenAPI 3 built from the live metadata, and Swagger UI served from the package (offline).

The spec covers every route of the ``/api/v1`` blueprint (``runtime/web/api.py``) for every
published entity: each operation has a stable ``operationId`` (``<app>.<entity>.<verb>``),
request and response schemas, and every status code it can answer, errors as
``application/problem+json``. ``tests/api/test_openapi_contract.py`` holds the routes and the
spec together (schemathesis over every operation, a generated client).
"""
from __future__ import annotations

from apispec import APISpec
from flask import Blueprint, current_app, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from metamodel import title_text
from runtime.behaviour.proposals import LIMITS as PROPOSAL_LIMITS
from runtime.behaviour.proposals import MAX_VERSION as PROPOSAL_MAX_VERSION
from runtime.behaviour.proposals import STATUSES as PROPOSAL_STATUSES
from runtime.data.query import MAX_LIMIT, OPS

bp = Blueprint("docs", __name__)

INT64_MAX = 2**63 - 1
_ID = {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}
_NUMBER_TEXT = r"^-?[0-9]+(\.[0-9]+)?$"
_TYPES = {
    "string": {"type": "string"}, "text": {"type": "string"}, "email": {"type": "string", "format": "email"},
    "phone": {"type": "string"},
    "integer": {"type": "integer", "format": "int64", "minimum": -INT64_MAX - 1, "maximum": INT64_MAX},
    "decimal": {"type": "string", "format": "decimal", "pattern": _NUMBER_TEXT},
    "money": {"type": "string", "format": "decimal", "pattern": _NUMBER_TEXT},
    "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"}, "link": _ID, "user": _ID, "group": _ID,
}
_SYSTEM = {
    "id": {"type": "integer", "format": "int64"}, "number": {"type": "string", "nullable": True},
    "status": {"type": "string", "nullable": True},
    "created_at": {"type": "string", "format": "date-time", "nullable": True},
    "created_by": {"type": "integer", "nullable": True},
    "updated_at": {"type": "string", "format": "date-time", "nullable": True},
    "updated_by": {"type": "integer", "nullable": True},
    "row_version": {"type": "integer", "description": "send it back on update (or If-Match) for optimistic locking"},
    "meta_version": {"type": "integer", "nullable": True},
    "deleted_at": {"type": "string", "format": "date-time", "nullable": True},
}
_ROW_VERSION = {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX,
                "description": "the row_version you edited (or send If-Match)"}
_PROBLEM = {"type": "object", "required": ["title", "status"], "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"},
    "errors": {"type": "array", "items": {"type": "object", "properties": {
        "field": {"type": "string", "nullable": True}, "message": {"type": "string"}}}}}}
_ERROR_TEXT = {400: "a malformed request", 401: "not signed in (no or a wrong token)", 403: "not allowed",
               404: "no such record, or one the caller may not see", 405: "method not allowed",
               409: "a conflict: changed by someone else, or not possible in the record's status",
               413: "the upload is too large", 415: "an unsupported content type",
               422: "invalid values: each problem names its field", 429: "too many requests"}
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
_COMMENT = {"type": "object", "properties": {
    "id": {"type": "integer"}, "body": {"type": "string"}, "public": {"type": "boolean"},
    "created_at": {"type": "string", "format": "date-time"}}}
_SLA = {"type": "object", "properties": {
    "target": {"type": "string"}, "title": {}, "policy": {"type": "string"},
    "state": {"type": "string", "enum": ["running", "paused", "met", "breached"]},
    "started_at": {"type": "string", "format": "date-time", "nullable": True},
    "due_at": {"type": "string", "format": "date-time", "nullable": True},
    "stopped_at": {"type": "string", "format": "date-time", "nullable": True},
    "target_seconds": {"type": "number"}, "used_seconds": {"type": "number"},
    "remaining_seconds": {"type": "number"}, "percent": {"type": "number", "nullable": True},
    "breached": {"type": "boolean"}, "level": {"type": "integer", "nullable": True}}}
_HISTORY = {"type": "object", "properties": {
    "from": {"type": "string", "nullable": True}, "to": {"type": "string", "nullable": True},
    "transition": {"type": "string", "nullable": True}, "user": {"type": "string"},
    "at": {"type": "string", "format": "date-time"}}}
_FILE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "filename": {"type": "string"}, "content_type": {"type": "string", "nullable": True},
    "size": {"type": "integer"}}}
_APP = {"type": "object", "properties": {
    "name": {"type": "string"}, "title": {}, "version": {"type": "integer"},
    "entities": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "title": {}, "url": {"type": "string"}}}}}}
_TOKEN_REQUEST = {"type": "object", "required": ["username", "password"], "properties": {
    "username": {"type": "string", "maxLength": 150}, "password": {"type": "string"},
    "name": {"type": "string", "maxLength": 100, "description": "a label for the token"}}}
_TOKEN = {"type": "object", "required": ["token", "username"], "properties": {
    "token": {"type": "string"}, "username": {"type": "string"}}}
_DRY_RUN_REQUEST = {"type": "object", "required": ["script"], "properties": {
    "script": {"type": "string", "minLength": 1, "pattern": r"^[A-Za-z0-9_./-]+\.py:[A-Za-z_][A-Za-z0-9_]*$",
               "description": "file.py:function"},
    "record_id": {**_ID, "nullable": True}, "data": {"type": "object", "nullable": True},
    "writable": {"type": "boolean"}}}
_DRY_RUN = {"type": "object", "properties": {
    "ok": {"type": "boolean"}, "result": {}, "changes": {}, "error": {"nullable": True},
    "logs": {"type": "array", "items": {}}, "report": {"type": "object", "nullable": True}}}
_OPTIONS = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
    "id": {"type": "integer"}, "title": {"type": "string"}}}}}}
_GRAPH = {"type": "object", "properties": {
    "app": {"type": "string"}, "entity": {"type": "string"}, "center": {"type": "integer"},
    "depth": {"type": "integer"}, "truncated": {"type": "boolean"},
    "nodes": {"type": "array", "items": {"type": "object"}}, "edges": {"type": "array", "items": {"type": "object"}}}}
_TIMELINE_ITEM = {"type": "object", "properties": {
    "date": {"type": "string", "nullable": True, "description": "the entry's date or date and time (ISO 8601)"},
    "entity": {"type": "string"}, "process": {"type": "string"}, "id": {"type": "integer"},
    "number": {"type": "string", "nullable": True}, "title": {"type": "string"},
    "channel": {"nullable": True}, "channel_title": {"type": "string"},
    "status": {"type": "string", "nullable": True}, "status_title": {"type": "string"},
    "status_category": {"type": "string"}, "summary": {"type": "string"}, "url": {"type": "string"}}}
_TIMELINE = {"type": "object", "properties": {
    "title": {"type": "string"}, "items": {"type": "array", "items": _TIMELINE_ITEM},
    "next": {"type": "string", "nullable": True, "description": "the cursor of the next (older) page"}}}
_SHARED = {"Problem": _PROBLEM, "ApprovalRound": _ROUND, "Comment": _COMMENT, "SlaTarget": _SLA,
           "StatusChange": _HISTORY, "FileInfo": _FILE, "AppInfo": _APP, "TokenRequest": _TOKEN_REQUEST,
           "Token": _TOKEN, "DryRunRequest": _DRY_RUN_REQUEST, "DryRun": _DRY_RUN, "LinkOptions": _OPTIONS,
           "Graph": _GRAPH, "Timeline": _TIMELINE, "BatchRun": None, "Batch": None}


_NULL_TEXT = {"type": "string", "nullable": True}
_BATCH_RUN = {"type": "object", "properties": {
    "id": {"type": "integer"}, "app": {"type": "string"}, "batch": {"type": "string"},
    "run_key": {"type": "string"}, "params": {"type": "object"},
    "ids": {"type": "array", "items": {"type": "integer"}, "nullable": True},
    "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
    "total": {"type": "integer"}, "done": {"type": "integer"}, "results": {"type": "integer"},
    "chunks": {"type": "integer"}, "last_id": {"type": "integer"},
    "error": {"nullable": True, "description": "what stopped a failed run"},
    "started_by": {"type": "integer", "nullable": True}, "started_at": {"type": "string", "format": "date-time"},
    "heartbeat_at": {**_NULL_TEXT, "format": "date-time"}, "finished_at": {**_NULL_TEXT, "format": "date-time"},
    "percent": {"type": "integer", "minimum": 0, "maximum": 100}, "stale": {"type": "boolean"}}}
_BATCH = {"type": "object", "properties": {
    "name": {"type": "string"}, "title": {"nullable": True}, "params": {"type": "object"},
    "runs": {"type": "array", "items": {"$ref": "#/components/schemas/BatchRun"}}}}
_SHARED["BatchRun"], _SHARED["Batch"] = _BATCH_RUN, _BATCH

_PROPOSAL = {"type": "object", "properties": {
    "id": {"type": "integer"}, "app": {"type": "string"}, "entity": {"type": "string"},
    "record_id": {"type": "integer"}, "record_title": {"type": "string", "description": "as it was when filed"},
    "what": {"type": "string"}, "why": _NULL_TEXT, "status": {"type": "string", "enum": list(PROPOSAL_STATUSES)},
    "comment": {**_NULL_TEXT, "description": "the analyst's answer"},
    "version": {"type": "integer", "nullable": True, "description": "the published version that answered it"},
    "proposer": {"type": "string"}, "proposer_name": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}}
_PROPOSAL_PAGE = {"type": "object", "properties": {
    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Proposal"}},
    "next": {"type": "integer", "nullable": True, "description": "the `before` of the next page"}}}
_PROPOSAL_NEW = {"type": "object", "required": ["what"], "properties": {
    "what": {"type": "string", "minLength": 1, "maxLength": PROPOSAL_LIMITS["what"], "pattern": r"\S",
             "description": "what to improve"},
    "why": {"type": "string", "nullable": True, "maxLength": PROPOSAL_LIMITS["why"], "description": "why"}}}
_PROPOSAL_ANSWER = {"type": "object", "description": "a key left out keeps its value", "properties": {
    "status": {"type": "string", "enum": list(PROPOSAL_STATUSES)},
    "comment": {"type": "string", "nullable": True, "maxLength": PROPOSAL_LIMITS["comment"],
                "description": "the answer to the proposer; null or empty clears it"},
    "version": {"type": "integer", "minimum": 1, "maximum": PROPOSAL_MAX_VERSION, "nullable": True,
                "description": "a published version of the app; null unlinks it"}}}
_SHARED.update({"Proposal": _PROPOSAL, "ProposalPage": _PROPOSAL_PAGE, "ProposalNew": _PROPOSAL_NEW,
                "ProposalAnswer": _PROPOSAL_ANSWER})
_PROPOSAL_LIST_PARAMS = [
    {"name": "status", "in": "query", "required": False, "schema": {"type": "string", "enum": list(PROPOSAL_STATUSES)}},
    {"name": "before", "in": "query", "required": False, "schema": _ID, "description": "`next` of the previous page"},
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 200}}]


def _proposal_paths(spec: APISpec, app_name: str) -> None:
    """An app's improvement proposals (docs/decisions/0037): its analysts list and answer them."""
    base, tags = f"/api/v1/{app_name}/_proposals", [f"{app_name}.proposals"]
    one = _json(_ref("Proposal"), "the proposal")
    proposal_id = {"name": "proposal_id", "in": "path", "required": True, "schema": _ID}
    spec.path(path=base, operations={"get": {
        "operationId": f"{app_name}.proposals.list", "tags": tags, "summary": "The app's proposals (analysts)",
        "parameters": _PROPOSAL_LIST_PARAMS,
        "responses": {"200": _json(_ref("ProposalPage"), "a page, newest first"), **_errors(400, 401, 403, 404, 422)}}})
    spec.path(path=base + "/{proposal_id}", parameters=[proposal_id], operations={
        "get": {"operationId": f"{app_name}.proposals.get", "tags": tags,
                "summary": "A proposal (its proposer or an analyst)", "responses": {"200": one, **_errors(401, 404)}},
        "patch": {"operationId": f"{app_name}.proposals.answer", "tags": tags,
                  "summary": "Answer a proposal: status, comment, the version that made the change (analysts)",
                  "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ProposalAnswer")}}},
                  "responses": {"200": one, **_errors(400, 401, 403, 404, 422)}}})


def _batch_paths(spec: APISpec, app_name: str, names: list[str]) -> None:
    """An app's batch runs (docs/behaviour.md, "Batch runs"): list, start, follow, resume."""
    base, tags = f"/api/v1/{app_name}/_batches", [f"{app_name}.batches"]
    run = _json(_ref("BatchRun"), "the run")
    run_id = {"name": "run_id", "in": "path", "required": True, "schema": _ID}
    spec.path(path=base, operations={"get": {
        "operationId": f"{app_name}.batches.list", "tags": tags, "summary": "The batches the caller may run",
        "responses": {"200": _json({"type": "array", "items": _ref("Batch")}, "the batches"), **_errors(401, 404)}}})
    spec.path(path=base + "/{name}/runs", operations={"post": {
        "operationId": f"{app_name}.batches.start", "tags": tags, "summary": "Start (or replace) a run",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string", **({"enum": names} if names else {})}}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"params": {"type": "object"},
                                             "ids": {"type": "array", "items": _ID, "nullable": True}}}}}},
        "responses": {"202": run, **_errors(400, 401, 403, 404, 409, 422)}}})
    spec.path(path=base + "/runs/{run_id}", parameters=[run_id], operations={"get": {
        "operationId": f"{app_name}.batches.run", "tags": tags, "summary": "A run's state and progress",
        "responses": {"200": run, **_errors(401, 403, 404)}}})
    spec.path(path=base + "/runs/{run_id}/resume", parameters=[run_id], operations={"post": {
        "operationId": f"{app_name}.batches.resume", "tags": tags, "summary": "Go on with a stopped run",
        "responses": {"202": run, **_errors(401, 403, 404, 409)}}})


_REPORT = {"type": "object", "description": "a report's figures: rows of groups (raw keys) and values, and a total",
           "properties": {"name": {"type": "string"}, "title": {"nullable": True}, "kind": {"type": "string"},
                          "entity": {"type": "string"}}}
_SHARED["Report"] = _REPORT


def _report_paths(spec: APISpec, app_name: str, names: list[str]) -> None:
    """An app's reports (docs/behaviour.md, "Reports"): the list, and one's figures."""
    base, tags = f"/api/v1/{app_name}/_reports", [f"{app_name}.reports"]
    item = {"type": "object", "properties": {"name": {"type": "string"}, "title": {"nullable": True},
                                             "kind": {"type": "string"}, "entity": {"type": "string"},
                                             "url": {"type": "string"}}}
    spec.path(path=base, operations={"get": {
        "operationId": f"{app_name}.reports.list", "tags": tags, "summary": "The reports the caller may read",
        "responses": {"200": _json({"type": "array", "items": item}, "the reports"), **_errors(401, 404)}}})
    spec.path(path=base + "/{name}", operations={"get": {
        "operationId": f"{app_name}.reports.get", "tags": tags,
        "summary": "A report's figures (a stats or time-in-status report narrowed by field=value filters in the query)",
        "parameters": [{"name": "name", "in": "path", "required": True,
                        "schema": {"type": "string", **({"enum": names} if names else {})}}],
        "responses": {"200": _json(_ref("Report"), "the figures"), **_errors(400, 401, 403, 404)}}})


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    return {str(code): {"description": _ERROR_TEXT[code],
                        "content": {"application/problem+json": {"schema": _ref("Problem")}}} for code in codes}


def field_schema(f, writing: bool = False) -> dict:
    """A field's JSON schema; ``writing``: as a client sends it (ids for files are not sent)."""
    desc = title_text(f.title, "en")
    if f.storage == "child":
        props = {c.name: field_schema(c, writing) if c.type != "file" else {
            "type": "integer", "nullable": True, "description": f"{title_text(c.title, 'en')} (the id of one of the "
            f"record's files; a new one is a multipart part {f.name}[row].{c.name})"} for c in f.children.values()}
        props["id"] = {"type": "integer", "nullable": True,
                       "description": "the row's id (send it back to keep the row)"}
        return {"type": "array", "description": desc, "items": {"type": "object", "properties": props}}
    if f.storage == "assoc":
        return {"type": "array", "description": desc, "items": _ID}
    if f.storage == "attachments":
        return {"type": "array", "description": f"{desc} (files: upload them as multipart parts)",
                "items": _ref("FileInfo")}
    if f.storage == "point":
        return {"type": "object", "nullable": True, "required": ["lat", "lon"],
                "description": desc + " (WGS 84 degrees; filter: <field>__near=lat,lon,radius_m)",
                "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
                               "lon": {"type": "number", "minimum": -180, "maximum": 180}}}
    out = dict(_TYPES[f.value_type] if f.value_type in _TYPES else {"type": "string"})
    if f.value_type in ("decimal", "money"):
        out["pattern"] = _decimal_pattern(f)
        if writing:  # a client may send the number itself, or as text to keep every digit
            nullable = not f.required
            return {"anyOf": [{"type": "string", "pattern": out["pattern"], "nullable": nullable},
                              {"type": "number", "nullable": nullable}], "description": desc}
    out["description"] = desc + (f" (id of {f.target})" if f.target else "")
    out["nullable"] = not (writing and f.required)
    if out.get("format") == "email" and out["nullable"]:
        out.pop("format")  # an optional address may be sent as "" (no address)
    if f.value_type == "choice" and f.choices:
        out["enum"] = [c.value for c in f.choices] + ([None] if out["nullable"] else [])
    if out.get("type") == "string" and f.value_type not in ("decimal", "money", "date", "datetime", "choice"):
        if f.max_length:
            out["maxLength"] = f.max_length
        if "min_length" in f.spec or (writing and f.required):
            out["minLength"] = max(int(f.spec.get("min_length", 0)), 1 if f.required else 0)
        if "pattern" in f.spec:
            out["pattern"] = f.spec["pattern"]
    if f.value_type in ("integer",):
        if "min" in f.spec:
            out["minimum"] = f.spec["min"]
        if "max" in f.spec:
            out["maximum"] = f.spec["max"]
    return out


def _decimal_pattern(f) -> str:
    """A number as text with the digits the field keeps: ``12.50`` for ``precision: 12, scale: 2``."""
    whole, scale = max(f.precision - f.scale, 1), f.scale
    return rf"^-?[0-9]{{1,{whole}}}" + (rf"(\.[0-9]{{1,{scale}}})?$" if scale else "$")


def _writable(f) -> bool:
    return f.type not in ("computed", "rollup") and f.storage != "attachments"


def _record_schemas(entity) -> tuple[dict, dict, dict]:
    """The record as the API answers it, as a create sends it, and as a partial update sends it."""
    fields = entity.fields.values()
    answer = {"type": "object", "properties": {**_SYSTEM, **{f.name: field_schema(f) for f in fields}}}
    writable = {f.name: field_schema(f, writing=True) for f in fields if _writable(f)}
    required = [f.name for f in fields if f.required and _writable(f)]
    create = {"type": "object", "properties": dict(writable)}
    if required:
        create["required"] = required
    partial = {"type": "object", "description": "only the fields to change; none is required",
               "properties": {**writable, "row_version": _ROW_VERSION}}
    return answer, create, partial


def _multipart(entity) -> dict:
    """A create with its files: the record as JSON in ``record``, a part per file field and per
    table row's file (``items[0].photo``)."""
    binary = {"type": "string", "format": "binary"}
    props = {"record": {"type": "string", "pattern": r"^\s*\{[\s\S]*\}\s*$",
                        "description": "the record as a JSON object"}}
    for f in entity.fields.values():
        if f.storage == "attachments":
            props[f.name] = {"type": "array", "items": binary} if f.spec.get("multiple") else binary
    return {"type": "object", "properties": props}


def _file_fields(entity) -> list[str]:
    return [f.name for f in entity.fields.values() if f.storage == "attachments"]


def _row_file_columns(entity) -> dict[str, list[str]]:
    return {f.name: [c.name for c in f.children.values() if c.type == "file"] for f in entity.fields.values()
            if f.storage == "child" and any(c.type == "file" for c in f.children.values())}


def _link_fields(entity) -> list[str]:
    return [f.name for f in entity.fields.values() if f.value_type in ("link", "user", "group")
            or f.type == "multilink"]


_BOOLEAN_TEXT = ["true", "false", "1", "0", "yes", "no"]


def _filter_param(f) -> dict:
    """An equality filter on a column, typed as the server parses it (``?due_at=2026-01-31``)."""
    kind = f.value_type
    if kind == "choice" and f.choices:
        schema = {"type": "string", "enum": [c.value for c in f.choices]}
    elif kind == "boolean":
        schema = {"type": "string", "enum": _BOOLEAN_TEXT}
    elif kind in ("integer", "link", "user", "group", "date", "datetime"):
        schema = {k: v for k, v in _TYPES[kind].items() if k in ("type", "format", "minimum", "maximum")}
    elif kind in ("decimal", "money"):
        schema = {"type": "string", "pattern": _decimal_pattern(f)}
    else:
        schema = {"type": "string"}
    return {"name": f.name, "in": "query", "required": False, "schema": schema,
            "description": f"equals; also {f.name}__<op> with op in {', '.join(OPS)}"}


def _list_params(entity) -> list[dict]:
    views = [v["name"] for v in entity.spec.get("views", []) if isinstance(v, dict) and v.get("name")]
    columns = [f for f in entity.fields.values() if f.storage == "column"]
    sortable = ["id", "number", "created_at", "updated_at", "status"] + [f.name for f in columns]
    common = [
        {"name": "sort", "in": "query", "schema": {"type": "string", "enum": [
            p + n for n in dict.fromkeys(sortable) for p in ("", "-")]},
         "description": "a field, '-' before it for descending (several: comma-separated)"},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1},
         "description": f"page size; more than {MAX_LIMIT} is served as {MAX_LIMIT}"},
        {"name": "after", "in": "query", "schema": {"type": "string"},
         "description": "the cursor `next` of the previous page"},
        {"name": "count", "in": "query", "schema": {"type": "string", "enum": ["capped", "exact"]}},
    ]
    if entity.search_fields:
        common.append({"name": "q", "in": "query", "schema": {"type": "string"},
                       "description": f"full-text search in {', '.join(entity.search_fields)}"})
    if views:
        common.append({"name": "view", "in": "query", "schema": {"type": "string", "enum": views},
                       "description": "a list view of the metadata"})
    return common + [_filter_param(f) for f in columns]


def _entity_paths(spec: APISpec, app_name: str, live, entity) -> None:
    name = f"{app_name}.{entity.name}"
    answer, create, partial = _record_schemas(entity)
    spec.components.schema(name, answer)
    spec.components.schema(f"{name}.new", create)
    spec.components.schema(f"{name}.changes", partial)
    record = _ref(name)
    one = _json(record, "the record")
    tags = [name]
    base = f"/api/v1/{app_name}/{entity.name}"
    rid = {"name": "record_id", "in": "path", "required": True, "schema": _ID}

    def op(verb: str, summary: str, responses: dict, **extra) -> dict:
        return {"operationId": f"{name}.{verb}", "tags": tags, "summary": summary, "responses": responses, **extra}

    # no body is a record of defaults, or no change (not "required", which openapi-python-client
    # 0.29 also cannot generate for a body of two content types)
    body_new = {"required": False, "content": {"application/json": {"schema": _ref(f"{name}.new")},
                                              "multipart/form-data": {"schema": _multipart(entity)}}}
    body_changes = {"required": False, "content": {"application/json": {"schema": _ref(f"{name}.changes")},
                                                  "multipart/form-data": {"schema": _multipart(entity)}}}
    if_match = {"name": "If-Match", "in": "header", "required": False,
                "schema": {"type": "string", "pattern": r'^(W/)?"?[1-9][0-9]{0,17}"?$'},
                "description": "the row_version you edited, as the ETag gave it"}
    page = {"type": "object", "properties": {"items": {"type": "array", "items": record},
                                             "next": {"type": "string", "nullable": True},
                                             "count": {"type": "integer", "nullable": True},
                                             "count_exact": {"type": "boolean", "nullable": True}}}
    title = title_text(entity.title, "en")
    spec.path(path=base, operations={
        "get": op("list", f"List {title_text(entity.plural, 'en')}", {
            "200": _json(page, "a page"), **_errors(400, 401, 403, 404, 422)}, parameters=_list_params(entity)),
        "post": op("create", f"Create a {title}", {
            "201": one, **_errors(400, 401, 403, 404, 409, 413, 422)}, requestBody=body_new),
    })
    update = {"parameters": [if_match], "requestBody": body_changes,
              "responses": {"200": one, **_errors(400, 401, 403, 404, 409, 413, 422)}}
    spec.path(path=base + "/{record_id}", parameters=[rid], operations={
        "get": op("get", f"Read a {title}", {"200": one, **_errors(400, 401, 403, 404)}),
        "patch": op("update", f"Change some fields of a {title}", **update),
        "put": op("replace", "The same as PATCH: only the fields sent change", **update),
        "delete": op("delete", f"Delete a {title} (it can be restored)", {
            "200": one, **_errors(401, 403, 404, 409)}),
    })
    spec.path(path=base + "/{record_id}/restore", parameters=[rid], operations={"post": op(
        "restore", f"Restore a deleted {title}", {"200": one, **_errors(401, 403, 404, 409)})})
    files = _file_fields(entity)
    file_body = {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}}
    if files:
        spec.path(path=base + "/{record_id}/files/{field}", parameters=[rid], operations={"post": op(
            "upload_file", "Attach a file to a file field", {
                "201": _json(_ref("FileInfo"), "the file"), **_errors(400, 401, 403, 404, 409, 413, 422)},
            parameters=[{"name": "field", "in": "path", "required": True,
                         "schema": {"type": "string", "enum": files}}], requestBody=file_body)})
    tables = _row_file_columns(entity)
    if tables:
        spec.path(path=base + "/{record_id}/files/{table}/{row_id}/{column}", parameters=[rid], operations={
            "post": op("upload_row_file", "Put a file into a table row's file column", {
                "201": _json({"type": "object", "properties": {"record": record, "file": _ref("FileInfo")}},
                             "the record and the file"), **_errors(400, 401, 403, 404, 409, 413, 422)},
                parameters=[
                    {"name": "table", "in": "path", "required": True, "schema": {"type": "string", "enum": list(tables)}},
                    {"name": "row_id", "in": "path", "required": True, "schema": _ID},
                    {"name": "column", "in": "path", "required": True, "schema": {
                        "type": "string", "enum": sorted({c for cols in tables.values() for c in cols})}}],
                requestBody=file_body)})
    transitions = [tr["name"] for tr in entity.spec.get("transitions", [])]
    if transitions:
        spec.path(path=base + "/{record_id}/transitions/{name}", parameters=[rid], operations={"post": op(
            "transition", "Fire a workflow transition (with the fields it asks for)", {
                "200": one, **_errors(400, 401, 403, 404, 409, 413, 422)},
            parameters=[{"name": "name", "in": "path", "required": True,
                         "schema": {"type": "string", "enum": transitions}}],
            requestBody={"required": False, "content": {
                "application/json": {"schema": _ref(f"{name}.changes")},
                "multipart/form-data": {"schema": _multipart(entity)}}})})
    actions = [a["name"] for a in (entity.spec.get("hooks") or {}).get("actions", [])]
    if actions:
        spec.path(path=base + "/{record_id}/actions/{name}", parameters=[rid], operations={"post": op(
            "action", "Run a button script on the record", {
                "200": _json({"type": "object", "properties": {"record": record, "result": {}}},
                             "the record after the action and the script's result"),
                **_errors(401, 403, 404, 409, 422)},
            parameters=[{"name": "name", "in": "path", "required": True,
                         "schema": {"type": "string", "enum": actions}}])})
    spec.path(path=base + "/dry-run", operations={"post": op(
        "dry_run", "Run a script against a record and roll everything back (analysts)", {
            "200": _json(_ref("DryRun"), "the result, changes, logs and run report"),
            **_errors(400, 401, 403, 404, 422)},
        requestBody={"required": True, "content": {"application/json": {"schema": _ref("DryRunRequest")}}})})
    spec.path(path=base + "/{record_id}/history", parameters=[rid], operations={"get": op(
        "history", "Status changes, oldest first", {
            "200": _json({"type": "array", "items": _ref("StatusChange")}, "the changes"),
            **_errors(401, 403, 404)})})
    spec.path(path=base + "/{record_id}/comments", parameters=[rid], operations={
        "get": op("comments.list", "Comments, oldest first", {
            "200": _json({"type": "array", "items": _ref("Comment")}, "the comments"), **_errors(401, 403, 404)}),
        "post": op("comments.create", "Add a comment (internal unless public)", {
            "201": _json(_ref("Comment"), "the comment"), **_errors(400, 401, 403, 404, 422)},
            requestBody={"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["body"], "properties": {
                    "body": {"type": "string", "minLength": 1, "pattern": r"\S"},
                    "public": {"type": "boolean"}}}}}}),
    })
    spec.path(path=base + "/{record_id}/comments/{comment_id}", parameters=[rid], operations={"patch": op(
        "comments.update", "Show a comment on the portal, or make it internal again", {
            "200": _json(_ref("Comment"), "the comment"), **_errors(400, 401, 403, 404, 422)},
        parameters=[{"name": "comment_id", "in": "path", "required": True, "schema": _ID}],
        requestBody={"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["public"], "properties": {"public": {"type": "boolean"}}}}}})})
    boards = [v["name"] for v in entity.spec.get("views", []) if v.get("kind") == "kanban"]
    if boards:
        column = {"type": "object", "properties": {
            "value": {"nullable": True}, "title": {"nullable": True}, "count": {"type": "integer", "nullable": True},
            "count_exact": {"type": "boolean", "nullable": True}, "cards": {"type": "array", "items": {"type": "object"}},
            "next": {"type": "string", "nullable": True}}}
        spec.path(path=base + "/boards/{view_name}", operations={"get": op(
            "board", "A kanban view: its columns with counts, first cards and cursors", {
                "200": _json({"type": "object", "properties": {
                    "view": {"type": "string"}, "group_by": {"type": "string"},
                    "swimlanes": {"type": "string", "nullable": True},
                    "card": {"type": "array", "items": {"type": "string"}},
                    "columns": {"type": "array", "items": column},
                    "lanes": {"type": "array", "items": {"type": "object", "properties": {
                        "value": {"nullable": True}, "title": {"nullable": True},
                        "cells": {"type": "array", "items": column}}}},
                    "transitions": {"type": "array", "items": {"type": "object"}}}}, "the board"),
                **_errors(400, 401, 403, 404, 422)},
            parameters=[{"name": "view_name", "in": "path", "required": True, "schema": {"type": "string", "enum": boards}},
                        {"name": "column", "in": "query", "required": False, "schema": {"type": "string"},
                         "description": "page this column on (with after)"},
                        {"name": "lane", "in": "query", "required": False, "schema": {"type": "string"},
                         "description": "with swimlanes: the lane whose cell of the column is paged on "
                                        "(its value; empty for the lane without a value)"},
                        {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "maximum": 500}}])})
    _view_kind_paths(spec, base, entity, op)
    spec.path(path=base + "/{record_id}/sla", parameters=[rid], operations={"get": op(
        "sla", "SLA targets: state, deadline, business time used and left, escalation level", {
            "200": _json({"type": "array", "items": _ref("SlaTarget")}, "the targets"),
            **_errors(401, 403, 404)})})
    approvals = [a["name"] for a in live.app.section("approvals").get("approvals", [])
                 if a["entity"].split(".")[-1] == entity.name]
    if approvals:
        spec.path(path=base + "/{record_id}/approvals", parameters=[rid], operations={"get": op(
            "approvals.list", "Approval rounds with their votes, newest first", {
                "200": _json({"type": "array", "items": _ref("ApprovalRound")}, "the rounds"),
                **_errors(401, 403, 404)})})
        spec.path(path=base + "/{record_id}/approvals/{name}/votes", parameters=[rid], operations={"post": op(
            "approvals.vote", "Vote in the open round (approvers only, once)", {
                "200": _json(_ref("ApprovalRound"), "the round after the vote"),
                **_errors(400, 401, 403, 404, 409, 422)},
            parameters=[{"name": "name", "in": "path", "required": True,
                         "schema": {"type": "string", "enum": approvals}}],
            requestBody={"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["decision"], "properties": {
                    "decision": {"type": "string", "enum": ["approve", "reject"]},
                    "comment": {"type": "string", "nullable": True}}}}}})})
    links = _link_fields(entity)
    if links:
        spec.path(path=base + "/options/{field}", operations={"get": op(
            "options", "The records a link field offers (its link filter applied)", {
                "200": _json(_ref("LinkOptions"), "the choices"), **_errors(400, 401, 403, 404, 422)},
            parameters=[{"name": "field", "in": "path", "required": True, "schema": {"type": "string", "enum": links}},
                        {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "text to match"},
                        {"name": "id", "in": "query", "schema": _ID,
                         "description": "the stored record the choices are for"}])})
    spec.path(path=base + "/{record_id}/proposals", parameters=[rid], operations={"post": op(
        "proposals.create", "Suggest an improvement of the app, filed from this record", {
            "201": _json(_ref("Proposal"), "the proposal"), **_errors(400, 401, 403, 404, 422)},
        requestBody={"required": True, "content": {"application/json": {"schema": _ref("ProposalNew")}}})})
    if "graph" in entity.spec:
        spec.path(path=base + "/{record_id}/graph", parameters=[rid], operations={"get": op(
            "graph", "The record's relation graph", {"200": _json(_ref("Graph"), "nodes and edges"),
                                                      **_errors(400, 401, 403, 404)},
            parameters=[{"name": "depth", "in": "query", "schema": {"type": "integer"},
                         "description": "steps from the record, brought into 1..4"}])})
    if "timeline" in entity.spec:
        spec.path(path=base + "/{record_id}/timeline", parameters=[rid], operations={"get": op(
            "timeline", "The record's history across processes, newest first", {
                "200": _json(_ref("Timeline"), "a page of entries"), **_errors(400, 401, 403, 404, 422)},
            parameters=[{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                        {"name": "after", "in": "query", "schema": {"type": "string"},
                         "description": "the next cursor of the page before"}])})


def build_spec(loom) -> dict:
    spec = APISpec(title="Loom API", version="1", openapi_version="3.0.3",
                   info={"description": "Generated from the published app metadata. Errors are RFC 7807 "
                                        "problem documents (application/problem+json)."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                               "description": "a token from POST /api/v1/auth/token"})
    for schema_name, schema in _SHARED.items():
        spec.components.schema(schema_name, schema)
    spec.path(path="/api/v1/auth/token", operations={"post": {
        "operationId": "auth.token", "tags": ["auth"], "security": [],
        "summary": "Exchange a username and password for a token",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TokenRequest")}}},
        "responses": {"201": _json(_ref("Token"), "the token"), **_errors(400, 401, 403, 429)}}})
    spec.path(path="/api/v1/apps", operations={"get": {
        "operationId": "apps.list", "tags": ["apps"], "summary": "The apps and entities the caller may read",
        "responses": {"200": _json({"type": "array", "items": _ref("AppInfo")}, "the apps"), **_errors(401)}}})
    spec.path(path="/api/v1/proposals", operations={"get": {
        "operationId": "proposals.mine", "tags": ["proposals"], "summary": "The caller's own proposals",
        "parameters": _PROPOSAL_LIST_PARAMS,
        "responses": {"200": _json(_ref("ProposalPage"), "a page, newest first"), **_errors(400, 401, 422)}}})
    spec.path(path="/api/v1/files/{attachment_id}", operations={"get": {
        "operationId": "files.download", "tags": ["files"], "summary": "Download a file",
        "parameters": [{"name": "attachment_id", "in": "path", "required": True, "schema": _ID}],
        "responses": {"200": {"description": "the file's content",
                              "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                   "format": "binary"}}}},
                      **_errors(401, 404)}}})
    for app_name, live in sorted(loom.live.items()):
        for entity in live.app.entities.values():
            spec.tag({"name": f"{app_name}.{entity.name}", "description": title_text(entity.plural, "en")})
            _entity_paths(spec, app_name, live, entity)
        batches = [b["name"] for b in live.app.section("batches").get("batches", [])]
        _batch_paths(spec, app_name, batches)  # the routes answer for every app, with no batches too
        _proposal_paths(spec, app_name)
        _report_paths(spec, app_name, [r["name"] for r in live.app.section("reports").get("reports", [])])
    out = spec.to_dict()
    out["security"] = [{"bearer": []}]
    return out


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


# The data endpoints of calendar, Gantt and map views: (path segment, answer's list, summary, extra parameters).
_VIEW_KINDS = {
    "calendar": ("calendars", "entries", "A calendar view: the records of a window of days, by their start", [
        {"name": "start", "in": "query", "required": True, "schema": {"type": "string", "format": "date"},
         "description": "the window's first day"},
        {"name": "end", "in": "query", "required": True, "schema": {"type": "string", "format": "date"},
         "description": "the window's last day (at most 92 days after start)"}]),
    "gantt": ("gantts", "bars", "A Gantt view: bars with predecessors and the critical path", []),
    "map": ("maps", "markers", "A map view: the records that have a point", []),
}


def _view_kind_paths(spec: APISpec, base: str, entity, op) -> None:
    """One path per view kind the entity has; list filters (``field__op=value``) apply to each."""
    for kind, (segment, items, summary, extra) in _VIEW_KINDS.items():
        names = [v["name"] for v in entity.spec.get("views", []) if v.get("kind") == kind]
        if not names:
            continue
        spec.path(path=f"{base}/{segment}/{{view_name}}", operations={"get": op(
            kind, summary, {
                "200": _json({"type": "object", "properties": {
                    "view": {"type": "string"}, "fields": {"type": "array", "items": {"type": "string"}},
                    items: {"type": "array", "items": {"type": "object"}},
                    "next": {"type": "string", "nullable": True}}}, f"the {kind}"),
                **_errors(400, 401, 403, 404, 422)},
            parameters=[{"name": "view_name", "in": "path", "required": True, "schema": {"type": "string", "enum": names}},
                        *extra,
                        {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "maximum": 500}}])})
