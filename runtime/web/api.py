"""The REST API, generated for every published entity: ``/api/v1/<app>/<name:entity>``.

JSON in and out; errors are RFC 7807 problem documents naming the field.
Clients authenticate with ``Authorization: Bearer <token>``
(``POST /api/v1/auth/token`` exchanges a username and password for one).
"""
from __future__ import annotations

import json
import re

from flask import Blueprint, current_app, g, jsonify, request, send_file
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound as RouteNotFound

from runtime.behaviour.batches import run_json
from runtime.behaviour.proposals import KEEP
from runtime.data import boards, comments, view_kinds
from runtime.data.files import FileStore, Upload
from runtime.data.query import BadQuery, ListQuery, parse_args
from runtime.data.values import FieldError, to_json
from runtime.errors import Forbidden, LoomError, NotFound, Unauthorized, ValidationFailed
from runtime.security import throttle
from runtime.security.permissions import is_analyst

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PROBLEM = "application/problem+json"


def api_not_found_or_not_allowed(exc: HTTPException):
    """A 404 or 405 of routing under /api/ (no blueprint handles those) as a problem document."""
    if request.path.startswith("/api/"):
        if any(part.isdecimal() and int(part) >= 2**63 for part in request.path.split("/")):
            exc = RouteNotFound()  # werkzeug checks the method before the id: an id beyond 64 bits is no id
        response = problem(exc.code or 404, exc.name, exc.description or exc.name)
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response
    return exc


@bp.record_once
def _routing_problems(state) -> None:
    for code in (404, 405):
        state.app.register_error_handler(code, api_not_found_or_not_allowed)


def loom():
    return current_app.extensions["loom"]


def problem(status: int, title: str, detail: str, **extra):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM
    return response


@bp.errorhandler(LoomError)
def _loom_error(exc: LoomError):
    return loom_problem(exc, g.get("actor"))


def loom_problem(exc: LoomError, actor):
    """``exc`` as a problem document for ``actor``."""
    body = exc.problem()
    if "script" in body and not is_analyst(actor):
        body.pop("script")  # end users get the safe message; analysts the script, line and reason
    response = jsonify(body)
    response.status_code = exc.status
    response.mimetype = PROBLEM
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    response = problem(exc.code or 500, exc.name, exc.description or exc.name)
    if getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


@bp.before_request
def _authenticate():
    loom().refresh_if_stale()
    if request.endpoint == "api.issue_token":
        return None
    header = request.headers.get("Authorization", "")
    actor = None
    if header.startswith("Bearer "):
        actor = loom().accounts.actor_for_token(header[7:].strip())
    if actor is None:
        raise Unauthorized("send Authorization: Bearer <token>; get a token from POST /api/v1/auth/token")
    actor.ip = request.remote_addr
    g.actor = actor


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise LoomError("the request body must be a JSON object")
    return data


def _record_body(app: str, entity: str, optional: bool = False) -> tuple[dict, dict]:
    """The record data and the files of a request.

    JSON, or ``multipart/form-data``: the record as JSON in a part named ``record`` (or as form
    fields, one per field; a table's rows as JSON text), and each file in a part named by its
    field (``photo``, several parts for a multiple field) or by a table row's file column
    (``items[0].photo``, the row being ``items[0]`` of the record data).
    """
    if request.mimetype != "multipart/form-data":
        if optional and not request.get_data():
            return {}, {}
        data = request.get_json(silent=True)
        if data is None and optional:
            return {}, {}
        if not isinstance(data, dict):
            raise LoomError("the request body must be a JSON object, or multipart/form-data with the record "
                            "in a part named 'record' and a part per file")
        errors = _json_type_errors(loom().entity_tables(app, entity).entity.fields, data)
        if errors:
            raise ValidationFailed(errors)
        return data, {}
    raw = request.form.get("record")
    if raw is None and "record" in request.files:
        raw = request.files["record"].read().decode("utf-8")
    if raw is not None:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ValidationFailed([FieldError("record", f"must be a JSON object: {exc}")]) from None
        if not isinstance(data, dict):
            raise ValidationFailed([FieldError("record", "must be a JSON object")])
        extra = [key for key in request.form if key != "record"]
        if extra:  # with the record in its part, the other parts are its files
            raise ValidationFailed([FieldError(key, "send a file in this part (the values go in 'record')")
                                    for key in extra])
        errors = _json_type_errors(loom().entity_tables(app, entity).entity.fields, data)
        if errors:
            raise ValidationFailed(errors)
    else:
        fields = loom().entity_tables(app, entity).entity.fields
        data = {key: _form_value(fields.get(key), values) for key, values in request.form.lists()}
    files = {key: [Upload(u.filename or "file", u.mimetype, u.stream) for u in uploads if u and u.filename]
             for key, uploads in request.files.lists() if key != "record"}
    return data, {key: uploads for key, uploads in files.items() if uploads}


_TEXT_KINDS = ("string", "text", "email", "phone", "choice", "date", "datetime")


def _json_type_errors(fields: dict, data: dict, prefix: str = "") -> list[FieldError]:
    """Values of the wrong JSON type, as the OpenAPI document types them: text for text, a number
    for a number, true/false for a flag, ids for links. (Forms and CSV imports send text and are
    coerced; a JSON client is held to the types it was promised.)"""
    errors = []
    for name, value in data.items():
        f = fields.get(name)
        if f is None or value is None or f.type == "computed" or f.storage in ("attachments", "point"):
            continue
        where, kind = prefix + name, f.value_type
        if f.storage == "child":
            if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
                errors.append(FieldError(where, "expected a list of rows (objects)"))
            else:
                for i, row in enumerate(value):
                    errors += _json_type_errors(f.children, {k: v for k, v in row.items() if k != "id"},
                                                f"{where}[{i}].")
            continue
        if value == "" and kind in ("date", "datetime", "decimal", "money"):
            errors.append(FieldError(where, "send null for no value"))
            continue
        if f.storage == "assoc":
            ok = isinstance(value, list) and all(_is_int(v) for v in value)
        elif f.type == "file":
            ok = _is_int(value)
        elif kind in _TEXT_KINDS:
            ok = isinstance(value, str)
        elif kind == "integer":
            ok = _is_int(value)
        elif kind in ("decimal", "money"):
            ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        elif kind == "boolean":
            ok = isinstance(value, bool)
        elif kind in ("link", "user", "group"):
            ok = _is_int(value) or isinstance(value, dict) and _is_int(value.get("id"))
        else:
            ok = True
        if not ok:
            errors.append(FieldError(where, f"expected {_JSON_KIND.get(kind, 'text')}, got {type(value).__name__}"
                                     if f.storage != "assoc" else "expected a list of record ids"))
    return errors


_JSON_KIND = {"integer": "a whole number", "decimal": "a number", "money": "an amount", "boolean": "true or false",
              "link": "a record id", "user": "a user id", "group": "a group id", "file": "a file id"}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(text: str) -> bool:
    return text.isdecimal() and 0 < int(text) < 2**63


def _version(version) -> int | None:
    try:
        return int(version) if version is not None else None
    except (TypeError, ValueError):
        raise LoomError(f"row_version must be a whole number, got {version!r}") from None


def _form_value(f, values: list):
    """A form field's value: a text, the ids of a multi-link (a part each, or JSON), a table's rows
    as JSON text."""
    if f is not None and f.storage in ("child", "assoc") and len(values) == 1 and values[0][:1] == "[":
        try:
            return json.loads(values[0])
        except ValueError:
            raise LoomError(f"the form field {f.name!r} must hold JSON: a list of "
                            f"{'rows' if f.storage == 'child' else 'ids'}") from None
    if f is not None and f.storage == "assoc":
        return [v for v in values if v]
    return values[0] if len(values) == 1 else values


_OTHER_METHODS = ["PUT", "PATCH", "DELETE"]


def _only(method: str):
    """Answer the other methods of a fixed path here, so they are not taken for ``/<app>/<name:entity>``
    (an app named "auth"): OPTIONS lists the one method, the rest are 405."""
    if request.method == "OPTIONS":
        response = current_app.make_default_options_response()
        response.headers["Allow"] = f"{method}, OPTIONS"
        return response
    raise MethodNotAllowed(valid_methods=[method])


@bp.route("/auth/token", methods=["POST", "GET", "OPTIONS", *_OTHER_METHODS])
def issue_token():
    if request.method != "POST":
        return _only("POST")
    data = _json_body()
    username, address = str(data.get("username", ""))[:150], request.remote_addr
    limits = throttle.for_app(current_app)  # the same failed-sign-in limits as the login page
    if limits.blocked(username, address):
        return problem(429, "Too many requests", "too many failed sign-ins; try again in a few minutes")
    actor = loom().accounts.authenticate(username, str(data.get("password", "")), ip=address)
    if actor is None:
        limits.failed(username, address)
        raise Unauthorized("wrong username or password")
    limits.succeeded(username, address)
    if actor.external:
        raise Forbidden("external users reach the portal only; the API is for staff and systems")
    token = loom().accounts.issue_token(actor.id, name=str(data.get("name") or "api"))
    return jsonify({"token": token, "username": actor.username}), 201


@bp.get("/apps")
def list_apps():
    out = []
    for name, live in sorted(loom().live.items()):
        entities = loom().permissions.readable(g.actor, live.app)
        if entities:  # an app the caller has nothing in is left out, name and all
            out.append({"name": name, "title": live.app.title, "version": live.version,
                        "entities": [{"name": e.name, "title": e.title, "url": f"/api/v1/{name}/{e.name}"}
                                     for e in entities]})
    return jsonify(out)


@bp.get("/<app>/<name:entity>")
def list_records(app: str, entity: str):
    et = loom().entity_tables(app, entity)
    loom().permissions.require(g.actor, et.entity, "read")
    _single_values(request.args)
    filters, sort, options = parse_args(request.args)
    view_filters, view_sort = [], []
    if options.get("view"):
        try:
            view = et.entity.view(options["view"])
        except KeyError:
            raise NotFound(f"{entity} has no view {options['view']!r}") from None
        view_filters, view_sort = _view_filters(view), list(view.get("sort", []))
    include_deleted = options.get("deleted") in ("1", "true") and g.actor.is_admin
    records = loom().records
    with loom().reader.connect() as conn:
        page = ListQuery(loom(), et).run(conn, filters, sort, limit=options.get("limit", 50),
                                         after=options.get("after"), search=options.get("q"),
                                         count=options.get("count"), actor=g.actor, include_deleted=include_deleted,
                                         view_filters=view_filters, view_sort=view_sort)
        items = records.page_json(et, page.items, g.actor)
    return jsonify({"items": items, "next": page.next_cursor, "count": page.count, "count_exact": page.count_exact})


def _single_values(args) -> None:
    """Each argument once and a sort that names something: ``?a=1&a=2`` and ``?sort=`` are
    mistakes a client should hear about, not filters silently combined or dropped."""
    for key in args:
        if len(args.getlist(key)) > 1:
            raise BadQuery(f"give {key!r} once (several values: {key}__in=a,b)", field=key)
    if "sort" in args and not args["sort"].strip(" ,"):
        raise BadQuery("sort names no field", field="sort")


def _view_filters(view: dict):
    from runtime.data.query import Filter
    return [Filter(f["field"], f.get("op", "eq"), f.get("value")) for f in view.get("filters", [])]


@bp.post("/<app>/<name:entity>")
def create_record(app: str, entity: str):
    data, files = _record_body(app, entity, optional=True)
    record = loom().records.create(app, entity, data, g.actor, files=files, channel="api")
    response = jsonify(record)
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/{app}/{entity}/{record['id']}"
    response.headers["ETag"] = f'"{record["row_version"]}"'
    return response


@bp.get("/<app>/<name:entity>/<int:record_id>")
def get_record(app: str, entity: str, record_id: int):
    include_deleted = request.args.get("deleted") in ("1", "true") and g.actor.is_admin
    record = loom().records.get(app, entity, record_id, g.actor, include_deleted=include_deleted)
    response = jsonify(record)
    response.headers["ETag"] = f'"{record["row_version"]}"'
    return response


@bp.route("/<app>/<name:entity>/<int:record_id>", methods=["PATCH", "PUT"])
def update_record(app: str, entity: str, record_id: int):
    data, files = _record_body(app, entity, optional=True)
    version = data.pop("row_version", None)
    if_match = request.headers.get("If-Match")
    if if_match:
        version = if_match.strip().removeprefix("W/").strip('"')
    version = _version(version)
    record = loom().records.update(app, entity, record_id, data, version, g.actor, files=files)
    response = jsonify(record)
    response.headers["ETag"] = f'"{record["row_version"]}"'
    return response


@bp.delete("/<app>/<name:entity>/<int:record_id>")
def delete_record(app: str, entity: str, record_id: int):
    return jsonify(loom().records.delete(app, entity, record_id, g.actor))


@bp.post("/<app>/<name:entity>/<int:record_id>/restore")
def restore_record(app: str, entity: str, record_id: int):
    return jsonify(loom().records.restore(app, entity, record_id, g.actor))


@bp.post("/<app>/<name:entity>/<int:record_id>/files/<field>")
def upload_file(app: str, entity: str, record_id: int, field: str):
    upload = request.files.get("file")
    if upload is None:
        raise LoomError("send the file as multipart form data in a part named 'file'")
    meta = FileStore(loom()).attach(app, entity, record_id, field, upload.filename or "file",
                                    upload.mimetype, upload.stream, g.actor)
    return jsonify(meta), 201


@bp.post("/<app>/<name:entity>/<int:record_id>/files/<table>/<int:row_id>/<column>")
def upload_row_file(app: str, entity: str, record_id: int, table: str, row_id: int, column: str):
    """Put a file into a table row's file column (the row's ``id`` as the record shows it)."""
    upload = request.files.get("file")
    if upload is None:
        raise LoomError("send the file as multipart form data in a part named 'file'")
    out = FileStore(loom()).attach_to_row(app, entity, record_id, table, row_id, column,
                                          Upload(upload.filename or "file", upload.mimetype, upload.stream), g.actor)
    response = jsonify(out)
    response.status_code = 201
    response.headers["ETag"] = f'"{out["record"]["row_version"]}"'
    return response


@bp.route("/files/<int:attachment_id>", methods=["GET", "POST", "OPTIONS", *_OTHER_METHODS])
def download_file(attachment_id: int):
    if request.method != "GET":  # files are attached through their record: /<app>/<name:entity>/<id>/files/<field>
        return _only("GET")
    meta, path = FileStore(loom()).open(attachment_id, g.actor)
    return send_file(path, mimetype=meta["content_type"] or "application/octet-stream",
                     as_attachment=True, download_name=meta["filename"])


@bp.post("/<app>/<name:entity>/<int:record_id>/transitions/<name>")
def fire_transition(app: str, entity: str, record_id: int, name: str):
    data, files = _record_body(app, entity, optional=True)
    version = _version(data.pop("row_version", None))
    return jsonify(loom().workflow.transition(app, entity, record_id, name, data, version, g.actor, files=files))


@bp.post("/<app>/<name:entity>/<int:record_id>/actions/<name>")
def run_action(app: str, entity: str, record_id: int, name: str):
    return jsonify(loom().workflow.action(app, entity, record_id, name, g.actor))


@bp.post("/<app>/<name:entity>/dry-run")
def dry_run(app: str, entity: str):
    """Run a script against a record without committing anything (analysts and admins)."""
    if not is_analyst(g.actor):
        raise Forbidden("dry runs are for analysts and administrators")
    data = _json_body()
    if not data.get("script"):
        raise LoomError("name the script to run: {\"script\": \"file.py:function\", \"record_id\": 1}")
    ref = data["script"]
    scripts = loom().live[app].app.scripts if app in loom().live else {}
    if not isinstance(ref, str) or ref.partition(":")[0] not in scripts:
        raise ValidationFailed([FieldError("script", f"{ref!r} names no script file of {app}")])
    if not isinstance(data.get("record_id"), (int, type(None))) or isinstance(data.get("record_id"), bool):
        raise ValidationFailed([FieldError("record_id", "must be a record id")])
    if not isinstance(data.get("data"), (dict, type(None))):
        raise ValidationFailed([FieldError("data", "must be an object: the record's field values")])
    return jsonify(loom().workflow.dry_run(app, entity, str(data["script"]), g.actor,
                                          record_id=data.get("record_id"), data=data.get("data"),
                                          writable=bool(data.get("writable", True))))


@bp.get("/<app>/<name:entity>/<int:record_id>/history")
def status_history(app: str, entity: str, record_id: int):
    """Every status change of a record, oldest first."""
    loom().records.get(app, entity, record_id, g.actor)  # 404 unless the caller may read it
    return jsonify(loom().behaviour.history(app, entity, record_id))


@bp.get("/<app>/<name:entity>/<int:record_id>/comments")
def list_comments(app: str, entity: str, record_id: int):
    """The record's comments, oldest first, each with ``public`` (shown on the portal) or not."""
    rows = comments.list_for(loom(), app, entity, record_id, g.actor)
    return jsonify([{**c, "created_at": to_json(c["created_at"])} for c in rows])


@bp.post("/<app>/<name:entity>/<int:record_id>/comments")
def post_comment(app: str, entity: str, record_id: int):
    """``{"body": "...", "public": false}``: a comment, internal unless ``public``."""
    data = _json_body()
    if not isinstance(data.get("body"), str):
        raise ValidationFailed([FieldError("body", "the comment's text is required")])
    if not isinstance(data.get("public", False), bool):
        raise ValidationFailed([FieldError("public", "must be true or false")])
    out = comments.add(loom(), app, entity, record_id, data["body"], g.actor, public=data.get("public") is True)
    return jsonify({**out, "created_at": to_json(out["created_at"])}), 201


@bp.patch("/<app>/<name:entity>/<int:record_id>/comments/<int:comment_id>")
def patch_comment(app: str, entity: str, record_id: int, comment_id: int):
    """``{"public": true}`` shows the comment on the portal; ``false`` makes it internal again."""
    data = _json_body()
    if not isinstance(data.get("public"), bool):
        raise LoomError("send {\"public\": true} or {\"public\": false}")
    return jsonify(comments.set_public(loom(), app, entity, record_id, comment_id, data["public"], g.actor))


@bp.get("/<app>/<name:entity>/<int:record_id>/sla")
def sla_status(app: str, entity: str, record_id: int):
    """The record's SLA targets: state, deadline, business time used and left, escalation level."""
    loom().records.get(app, entity, record_id, g.actor)
    with loom().reader.connect() as c:
        return jsonify(loom().sla.status(c, app, entity, record_id))


@bp.get("/<app>/<name:entity>/<int:record_id>/approvals")
def approval_rounds(app: str, entity: str, record_id: int):
    """The record's approval rounds, newest first: who must vote, the votes with their comments,
    the state, the deadline, and whether the caller may vote now."""
    return jsonify(loom().approvals.rounds(app, entity, record_id, g.actor))


@bp.post("/<app>/<name:entity>/<int:record_id>/approvals/<name>/votes")
def cast_vote(app: str, entity: str, record_id: int, name: str):
    """Vote in the open round of approval ``name``: ``{"decision": "approve"|"reject", "comment": ...}``."""
    data = _json_body()
    return jsonify(loom().approvals.vote(app, entity, record_id, name, str(data.get("decision") or ""),
                                         data.get("comment"), g.actor))


# ---------------------------------------------------------------------- improvement proposals
def _proposal_json(p: dict) -> dict:
    return {**{k: v for k, v in p.items() if k != "user_id"},
            "created_at": to_json(p["created_at"]), "updated_at": to_json(p["updated_at"])}


def _proposal_page(items: list[dict], before: int | None):
    return jsonify({"items": [_proposal_json(p) for p in items], "next": before})


def _page_args() -> dict:
    """``status``, ``before`` and ``limit`` of a list of proposals, checked."""
    args = request.args
    out = {"status": args.get("status") or None}
    for name, top in (("before", 2**63 - 1), ("limit", 200)):
        value = args.get(name)
        if value is not None:
            if not re.fullmatch(r"[1-9][0-9]{0,18}", value) or int(value) > top:
                raise BadQuery(f"{name} must be a whole number from 1 to {top}, not {value!r}", field=name)
            out[name] = int(value)
    return out


@bp.post("/<app>/<name:entity>/<int:record_id>/proposals")
def file_proposal(app: str, entity: str, record_id: int):
    """``{"what": "...", "why": "..."}``: an improvement proposal filed from the record."""
    data = _json_body()
    out = loom().proposals.file(app, entity, record_id, data.get("what"), data.get("why"), g.actor)
    response = jsonify(_proposal_json(out))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/{app}/_proposals/{out['id']}"
    return response


@bp.get("/proposals")
def my_proposals():
    """The caller's own proposals, newest first (they are filed from their record)."""
    return _proposal_page(*loom().proposals.mine(g.actor, **_page_args()))


@bp.get("/<app>/_proposals")
def app_proposals(app: str):
    """An app's proposals, newest first (analysts and administrators)."""
    if app not in loom().live:
        raise NotFound(f"no app {app!r}")
    return _proposal_page(*loom().proposals.of_app(app, g.actor, **_page_args()))


@bp.get("/<app>/_proposals/<int:proposal_id>")
def get_proposal(app: str, proposal_id: int):
    """One proposal, for its proposer or an analyst."""
    return jsonify(_proposal_json(loom().proposals.get(proposal_id, g.actor, app=app)))


@bp.patch("/<app>/_proposals/<int:proposal_id>")
def answer_proposal(app: str, proposal_id: int):
    """``{"status": ..., "comment": ..., "version": n | null}``: answer a proposal (analysts); a
    key left out keeps its value."""
    data = _json_body()
    if not isinstance(data.get("comment", ""), (str, type(None))):
        raise ValidationFailed([FieldError("comment", "must be text")])
    if not isinstance(data.get("status", ""), str):
        raise ValidationFailed([FieldError("status", "must be one of the statuses (leave it out to keep it)")])
    comment = data.get("comment")
    if "comment" in data and comment is None:
        comment = ""  # null clears the comment, as an empty text does
    return jsonify(_proposal_json(loom().proposals.answer(
        app, proposal_id, g.actor, status=data.get("status"), comment=comment,
        version=data["version"] if "version" in data else KEEP)))


@bp.get("/<app>/_batches")
def list_batches(app: str):
    """The app's batch runs the caller may start, each with its parameters and latest runs."""
    batches = loom().batches
    return jsonify([{"name": b["name"], "title": b.get("title"), "params": b.get("params") or {},
                     "runs": [run_json(r) for r in batches.runs(app, b["name"], limit=5)]}
                    for b in batches.specs(app) if batches.may_run(g.actor, app, b)])


@bp.post("/<app>/_batches/<name>/runs")
def start_batch(app: str, name: str):
    """Start a run: ``{"params": {...}, "ids": [...]}`` (ids: an explicit selection). 202 with the run."""
    data = request.get_json(silent=True) or {}
    if not isinstance(data, dict) or not isinstance(data.get("params", {}), dict):
        raise LoomError('send {"params": {name: value}, "ids": [optional source ids]}')
    ids = data.get("ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
        raise LoomError("ids must be a list of record ids")
    run = loom().batches.start(app, name, data.get("params") or {}, actor=g.actor, ids=ids)
    response = jsonify(run_json(run))
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/{app}/_batches/runs/{run['id']}"
    return response


@bp.get("/<app>/_batches/runs/<int:run_id>")
def batch_run(app: str, run_id: int):
    """A run's state and progress: total, done, results, percent, error."""
    return jsonify(run_json(loom().batches.view(run_id, g.actor, app)))


@bp.post("/<app>/_batches/runs/<int:run_id>/resume")
def resume_batch(app: str, run_id: int):
    loom().batches.view(run_id, g.actor, app)
    return jsonify(run_json(loom().batches.resume(run_id, g.actor))), 202


@bp.get("/<app>/_reports")
def list_reports(app: str):
    """The app's reports the caller may read (``reports.yaml``)."""
    from runtime.data.reports import entity_tables_of, reports_of
    out = []
    for report in reports_of(loom(), app):
        try:
            et = entity_tables_of(loom(), app, report)
        except LoomError:
            continue
        if loom().permissions.allowed(g.actor, et.entity, "read"):
            out.append({"name": report["name"], "title": report.get("title"), "kind": report.get("kind", "group"),
                        "entity": report["entity"], "url": f"/api/v1/{app}/_reports/{report['name']}"})
    return jsonify(out)


@bp.get("/<app>/_reports/<name>")
def get_report(app: str, name: str):
    """A report's figures over the records the caller may read; a stats or time-in-status report
    is narrowed by list filters in the query (``?office=3&created_at__gte=2026-12-01``)."""
    from runtime.data.reports import find_report, result_json, run_report, run_stats, run_time_in_status
    report = find_report(loom(), app, name)
    _single_values(request.args)
    filters, sort, options = parse_args(request.args)
    if sort or options:
        raise BadQuery("a report takes filters only (field=value, field__op=value)")
    with loom().reader.connect() as conn:
        if report.get("kind") in ("stats", "time_in_status"):
            run = run_stats if report["kind"] == "stats" else run_time_in_status
            result = run(loom(), app, report, g.actor, conn, filters)
        elif filters:
            raise BadQuery("filters in the query narrow stats reports; this report has its own", field=filters[0].field)
        else:
            result = run_report(loom(), app, report, g.actor, conn)
    return jsonify(result_json(result))


@bp.get("/<app>/<name:entity>/options/<field>")
def link_options(app: str, entity: str, field: str):
    """The records a link field offers (docs/metadata.md, "Link filters"): narrowed by its filter
    for the record described by the arguments (``id=`` a stored record, ``<field>=`` values,
    ``q=`` text), and only those the caller may read."""
    from .ui import meta
    et = loom().entity_tables(app, entity)
    f = et.entity.fields.get(field)
    perms = loom().permissions
    if f is None or not (f.value_type in ("link", "user", "group") or f.type == "multilink"):
        raise NotFound(f"{entity} has no link field {field!r}")
    if not (perms.allowed(g.actor, et.entity, "create") or perms.allowed(g.actor, et.entity, "update")):
        perms.require(g.actor, et.entity, "update")
    if field in perms.hidden(g.actor, et.entity):
        raise NotFound(f"{entity} has no link field {field!r}")
    if "id" in request.args and not _is_id(request.args["id"]):
        raise BadQuery(f"id must be a record id, not {request.args['id']!r}", field="id")
    with loom().reader.connect() as c:
        record = loom().link_filters.record_from_args(c, et, request.args, g.actor)
    options = meta.options(loom(), g.actor, f, request.args.get("q", ""), record=record)
    return jsonify({"items": [{"id": i, "title": text} for i, text in options]})


@bp.get("/<app>/<name:entity>/<int:record_id>/graph")
def record_graph(app: str, entity: str, record_id: int):
    """The record's relation graph (an entity's ``graph:``): nodes the caller may read and the
    relations between them."""
    from .ui.graph import graph_json
    et = loom().entity_tables(app, entity)
    if "graph" not in et.entity.spec:
        raise NotFound(f"{entity} declares no graph")
    loom().permissions.require(g.actor, et.entity, "read")
    depth = request.args.get("depth")
    if depth is not None and not re.fullmatch(r"-?[0-9]{1,100}", depth):
        raise BadQuery(f"depth must be a whole number, not {depth!r}", field="depth")
    return jsonify(graph_json(app, entity, record_id, g.actor, int(depth) if depth is not None else None))


@bp.get("/<app>/<name:entity>/<int:record_id>/timeline")
def record_timeline(app: str, entity: str, record_id: int):
    """The record's timeline (an entity's ``timeline:``): the records of its sources that link to
    it and that the caller may read, newest first; ``limit`` and ``after`` page on."""
    from .ui.timeline import public, timeline_json
    et = loom().entity_tables(app, entity)
    if "timeline" not in et.entity.spec:
        raise NotFound(f"{entity} declares no timeline")
    loom().permissions.require(g.actor, et.entity, "read")
    limit = request.args.get("limit")
    if limit is not None and not (re.fullmatch(r"[0-9]{1,3}", limit) and 1 <= int(limit) <= 100):
        raise BadQuery(f"limit must be a whole number from 1 to 100, not {limit!r}", field="limit")
    return jsonify(public(timeline_json(app, entity, record_id, g.actor, int(limit) if limit else None,
                                        request.args.get("after") or None)))


@bp.get("/<app>/<name:entity>/boards/<view_name>")
def board(app: str, entity: str, view_name: str):
    """A kanban view's data (see runtime.data.boards); ``column`` and ``after`` (and ``lane``) page
    one column (or one cell) on."""
    et = loom().entity_tables(app, entity)
    loom().permissions.require(g.actor, et.entity, "read")
    try:
        view = et.entity.view(view_name)
    except KeyError:
        raise NotFound(f"{entity} has no view {view_name!r}") from None
    if view.get("kind") != "kanban":
        raise NotFound(f"view {view_name!r} of {entity} is not a kanban board")
    try:
        limit = request.args.get("limit")
        if limit is not None and not (re.fullmatch(r"[1-9][0-9]{0,2}", limit) and int(limit) <= 500):
            raise BadQuery(f"limit must be a whole number from 1 to 500, not {limit!r}", field="limit")
        return jsonify(boards.board(loom(), et, view, g.actor, int(limit) if limit else None,
                                    request.args.get("column"), request.args.get("after"), request.args.get("lane")))
    except KeyError as exc:
        raise NotFound(f"board {view_name!r} has no column or lane {exc.args[0]!r}") from None


def _kind_view(et, view_name: str, kind: str) -> dict:
    loom().permissions.require(g.actor, et.entity, "read")
    try:
        return view_kinds.view_of(et.entity, view_name, kind)
    except KeyError:
        raise NotFound(f"{et.entity.name} has no view {view_name!r}") from None
    except LookupError as exc:
        raise NotFound(str(exc)) from None


def _view_args(*own: str) -> tuple[list, int | None, str | None]:
    """The list filters, limit and cursor of a calendar, Gantt or map request (``own``: its
    other arguments, left out of the filters)."""
    args = MultiDict([(k, v) for k, v in request.args.items(multi=True) if k not in own])
    filters, _, options = parse_args(args)
    limit = options.get("limit")
    if limit is not None and int(limit) > 500:
        raise BadQuery(f"limit must be a whole number from 1 to 500, not {limit!r}", field="limit")
    return filters, int(limit) if limit else None, options.get("after")


@bp.get("/<app>/<name:entity>/calendars/<view_name>")
def calendar(app: str, entity: str, view_name: str):
    """A calendar view's entries between ``start`` and ``end`` (days), filtered like a list."""
    et = loom().entity_tables(app, entity)
    view = _kind_view(et, view_name, "calendar")
    for name in ("start", "end"):
        if not request.args.get(name):
            raise BadQuery(f"{name} is required: the window's first and last day, YYYY-MM-DD", field=name)
    start, end = (view_kinds.parse_day(request.args[n], n) for n in ("start", "end"))
    filters, limit, after = _view_args("start", "end")
    return jsonify(view_kinds.calendar(loom(), et, view, g.actor, start, end, filters, limit, after))


@bp.get("/<app>/<name:entity>/gantts/<view_name>")
def gantt(app: str, entity: str, view_name: str):
    """A Gantt view's bars with their predecessors and the critical path, filtered like a list."""
    et = loom().entity_tables(app, entity)
    view = _kind_view(et, view_name, "gantt")
    filters, limit, after = _view_args()
    return jsonify(view_kinds.gantt(loom(), et, view, g.actor, filters, limit, after))


@bp.get("/<app>/<name:entity>/maps/<view_name>")
def map_view(app: str, entity: str, view_name: str):
    """A map view's markers (records with a point), filtered like a list."""
    et = loom().entity_tables(app, entity)
    view = _kind_view(et, view_name, "map")
    filters, limit, after = _view_args()
    return jsonify(view_kinds.map_points(loom(), et, view, g.actor, filters, limit, after))
