"""The OpenAPI document against the routes: every /api/v1 route is in it, schemathesis runs every
operation with all its checks through the real app, and a generated client drives the desk."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import threading
import traceback
from pathlib import Path

import schemathesis
from werkzeug.serving import make_server

from runtime.core.config import Settings
from runtime.web import create_app


def _desk_app(service_desk, tmp_path):
    app = create_app(Settings(tmp_path, service_desk.database_url), service_desk)
    uid = service_desk.accounts.create_user("admin", "s3cret-pass", is_admin=True)
    return app, service_desk.accounts.issue_token(uid)


def _seed(http, token) -> dict:
    """A record of each kind a request needs, and two requests (one taken), so ids exist."""
    h = {"Authorization": f"Bearer {token}"}

    def post(url, body):
        r = http.post(url, json=body, headers=h)
        assert r.status_code in (200, 201), r.get_json()
        return r.get_json()

    dep = post("/api/v1/service_desk/department", {"name": "Отдел сопровождения"})
    mod = post("/api/v1/service_desk/module", {"name": "СЭД", "code": "EDMS", "department": dep["id"]})
    org = post("/api/v1/service_desk/organization", {"short_name": "Минздрав", "inn": "6658000001"})
    req = post("/api/v1/service_desk/request", _request_body(org["id"], mod["id"]))
    post(f"/api/v1/service_desk/request/{req['id']}/comments", {"body": "Проверяем"})
    other = post("/api/v1/service_desk/request", _request_body(org["id"], mod["id"]))
    post(f"/api/v1/service_desk/request/{other['id']}/transitions/take", {})
    return {"department": dep, "module": mod, "organization": org, "request": req}


def _request_body(org: int, mod: int) -> dict:
    return {"organization": org, "module": mod, "subject": "Не открывается карточка документа",
            "description": "Ошибка при открытии"}


def test_every_api_route_is_in_the_spec(service_desk, tmp_path):
    doc = service_desk.store.document("service_desk")  # a table with a file column: the row-file route
    doc["entities"]["department"]["fields"]["scans"] = {"type": "table", "title": {"ru": "Сканы", "en": "Scans"},
                                                        "fields": {"scan": {"type": "file", "title": "Скан"}}}
    service_desk.store.publish(doc, author="tester")
    app, token = _desk_app(service_desk, tmp_path)
    client, auth = app.test_client(), {"Authorization": f"Bearer {token}"}
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    documented = {re.sub(r"\{[^}]+\}", "{}", p): ops for p, ops in paths.items()}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        shape = re.sub(r"<[^>]+>", "{}", rule.rule)
        concrete = [p for p in documented if re.fullmatch(re.escape(shape).replace(r"\{\}", "[^/]+"),
                                                          p.replace("{}", "x"))]
        assert concrete, f"{rule.rule} is not in the OpenAPI document"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if not any(method.lower() in documented[p] for p in concrete):  # only a 405 may go unsaid
                answer = client.open(re.sub(r"<[^>]+>", "1", rule.rule), method=method, headers=auth)
                assert answer.status_code == 405 and answer.headers["Allow"], f"{method} {rule.rule} undocumented"
    ops = [op for p in paths.values() for op in p.values() if isinstance(op, dict) and "responses" in op]
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids)) and "service_desk.request.create" in ids
    assert paths["/api/v1/auth/token"]["post"]["security"] == []
    patch = spec["components"]["schemas"]["service_desk.request.changes"]
    assert "required" not in patch and "subject" in patch["properties"]
    new = spec["components"]["schemas"]["service_desk.request.new"]
    assert "subject" in new["required"] and new["properties"]["subject"]["minLength"] >= 1
    transition = paths["/api/v1/service_desk/request/{record_id}/transitions/{name}"]["post"]
    assert "take" in transition["parameters"][0]["schema"]["enum"]
    assert transition["responses"]["409"]["content"]["application/problem+json"]


#: PostgreSQL runs the request (the desk's main entity, with transitions, files, SLA) and the
#: routes outside entities; SQLite runs every operation. Together they fit the suite's time.
PG_PATHS = r"^/api/v1/(auth|apps|files|service_desk/request)(/|$)"


def test_schemathesis_finds_no_failure(service_desk, tmp_path):
    """Every operation of the spec with all of schemathesis's checks, seeded, a few examples each:
    no server error, no status, content type, header or body that the spec does not declare, no
    valid request refused and no invalid one accepted."""
    app, token = _desk_app(service_desk, tmp_path)
    _seed(app.test_client(), token)
    postgres = service_desk.engine.dialect.name == "postgresql"
    failures, stats = run_schemathesis(app, token, PG_PATHS if postgres else None, max_examples=2)
    assert stats["scenarios"] > (20 if postgres else 300) and stats["checks"] > 1000, stats
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:20])


def run_schemathesis(app, token, paths: str | None = None, max_examples: int = 3,
                     stateful: bool = True) -> tuple[list[str], dict]:
    """Run schemathesis's engine (examples, coverage, fuzzing and stateful phases, every check)
    over the operations of the live spec whose path matches ``paths``, through the WSGI app,
    seeded. Returns the failures as text and counts of what ran."""
    from schemathesis.config import SchemathesisConfig

    config = SchemathesisConfig.from_dict({
        "seed": 20261205,
        "headers": {"Authorization": f"Bearer {token}"},
        "checks": {
            # well-formed data that breaks a rule a schema cannot carry (a link to a record that
            # does not exist, a transition's condition, a required field of a transition) is 422
            "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]},
        },
        "generation": {"max-examples": max_examples, "deterministic": True},
        "phases": {"stateful": {"enabled": stateful, "max-steps": 20}},
        "continue-on-failure": True,
    })
    with serving(app) as base:
        return _run(schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json", config=config), paths)


@contextlib.contextmanager
def serving(app):
    """The Flask app behind werkzeug's WSGI server on a loopback port: schemathesis's in-process
    WSGI transport cannot send its ignored_auth probe (it passes ``max_redirects`` to werkzeug)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def _run(schema, paths):
    from schemathesis.engine import events, from_schema
    from schemathesis.engine.recorder import Status

    if paths:
        schema = schema.include(path_regex=paths)
    failures, stats = [], {"scenarios": 0, "checks": 0, "errors": 0}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            stats["scenarios"] += 1
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    stats["checks"] += 1
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        interaction = event.recorder.interactions.get(case_id)
                        answer = interaction.response if interaction is not None else None
                        got = f"{answer.status_code} {answer.content[:300]!r}" if answer is not None else "-"
                        failures.append(f"{event.recorder.label} [{check.name}] {failure.title}: got {got}\n"
                                        f"  {check.failure_info.code_sample}")
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            stats["errors"] += 1
            exc = getattr(event, "value", None) or event.exception
            failures.append(f"error: {getattr(event, 'label', '')} {exc}\n"
                            + "".join(traceback.format_exception(exc)[-6:]))
    return failures, stats


def _generate_client(spec_url: str, into: Path) -> None:
    """``openapi-python-client generate`` on the live spec, as a user would run it."""
    import httpx
    spec = into / "openapi.json"
    spec.write_bytes(httpx.get(spec_url).content)
    bin_dir = Path(sys.executable).parent  # the generator and the ruff it formats with
    done = subprocess.run([str(bin_dir / "openapi-python-client"), "generate", "--path", str(spec),
                           "--output-path", str(into / "loom_client"), "--meta", "none"],
                          capture_output=True, text=True, cwd=into, timeout=180,
                          env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    assert done.returncode == 0 and "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr


def test_a_generated_client_creates_a_record_fires_a_transition_and_reads_its_sla(service_desk, tmp_path,
                                                                                   monkeypatch):
    app, token = _desk_app(service_desk, tmp_path)
    seeded = _seed(app.test_client(), token)
    with serving(app) as base:
        _generate_client(f"{base}/api/v1/openapi.json", tmp_path)
        monkeypatch.syspath_prepend(str(tmp_path))
        from loom_client import AuthenticatedClient
        from loom_client.api.service_desk_request import (
            service_desk_request_create, service_desk_request_sla, service_desk_request_transition,
            service_desk_request_update)
        from loom_client.models import (
            Problem, ServiceDeskRequestChanges, ServiceDeskRequestNew, ServiceDeskRequestTransitionName)

        client = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)
        created = service_desk_request_create.sync(client=client, body=ServiceDeskRequestNew.from_dict(
            _request_body(seeded["organization"]["id"], seeded["module"]["id"])))
        assert created.status == "registered" and created.number.startswith("REQ-")

        # a partial update: only the field that changes, none of the create's required ones
        changed = service_desk_request_update.sync(created.id, client=client, if_match=str(created.row_version),
                                                   body=ServiceDeskRequestChanges(subject="Карточка не открывается"))
        assert changed.subject == "Карточка не открывается" and changed.row_version == created.row_version + 1

        taken = service_desk_request_transition.sync(created.id, ServiceDeskRequestTransitionName.TAKE,
                                                     client=client, body=ServiceDeskRequestChanges())
        assert taken.status == "in_work"

        targets = service_desk_request_sla.sync(created.id, client=client)
        assert targets and {t.target for t in targets} >= {"reaction"}
        reaction = next(t for t in targets if t.target == "reaction")
        assert reaction.state.value == "met" and reaction.target_seconds > 0

        refused = service_desk_request_create.sync(client=client, body=ServiceDeskRequestNew.from_dict(
            {**_request_body(seeded["organization"]["id"], seeded["module"]["id"]), "subject": "abc"}))
        assert isinstance(refused, Problem) and refused.status == 422
