"""The dry run and the import job.

Both go through the record service as the importing user, so a row is checked exactly as
a save from the form would be: permissions, types, required fields, choices, links that
exist and that the link's filter allows, unique values, the entity's hooks. The dry run
does it in a transaction that is rolled back; the job in chunks of rows, each chunk one
transaction that also moves the run's last committed row (``platform.file_run_step``), so a
job started again after a crash continues after that row and never writes one twice.
"""
from __future__ import annotations

import csv
import io
import logging
import threading
import time

from runtime.plugin_api import Conflict, LoomError, NotFound, ValidationFailed

from .mapping import Converter
from .reading import FileProblem, read

KIND = "import"
JOB = "importer.run"
CHUNK = 200
SLICE_SECONDS = 60  # a job writes chunks for this long, then queues its continuation (RQ kills jobs at 300 s)
log = logging.getLogger("loom.plugins.importer")


def row_errors(exc: Exception) -> list[tuple[str, str]]:
    """``(field, message)`` of a refused save."""
    if isinstance(exc, ValidationFailed):
        return [(e.field, e.message) for e in exc.errors]
    return [("", getattr(exc, "detail", None) or str(exc))]


def _attempt(step, converter, app: str, entity: str, header, cells: list[str], mapping) -> list[tuple[str, str]]:
    """Save one row on the step's transaction in its own savepoint; its errors (none: saved)."""
    values, problems = converter.row(dict(zip(header, cells)), mapping)
    if problems:
        return [(p.field, p.message) for p in problems]
    try:
        with step.savepoint():
            step.records.create(app, entity, values)
    except LoomError as exc:
        return row_errors(exc)
    return []


def dry_run(platform, user, app: str, entity: str, sheet, mapping: dict) -> dict:
    """Every row's errors, nothing written: ``{"rows", "good", "errors": [{row, field, message}]}``."""
    model = platform.entity_model(app, entity)
    errors, good = [], 0
    with platform.trial(user) as step:
        converter = Converter(platform, step.records, app, model)
        for line, cells in sheet.rows:
            found = _attempt(step, converter, app, entity, sheet.header, cells, mapping)
            errors.extend({"row": line, "field": f, "message": m} for f, m in found)
            good += not found
    return {"rows": len(sheet.rows), "good": good, "errors": errors}


def start_job(platform, run_id: int) -> None:
    """Queue the job on a worker with Redis; without, run it on a thread of this process (as
    ``platform.enqueue`` would, but so that the page answers at once and shows the progress)."""
    if platform.config.get("redis_url"):
        platform.enqueue(JOB, run_id)
    else:
        threading.Thread(target=platform.enqueue, args=(JOB, run_id), daemon=True, name=f"import-{run_id}").start()


def run(platform, run_id: int, chunks: int | None = None) -> str:
    """The job: write the run's rows after its last committed one, a chunk per transaction.
    ``chunks``: write at most that many and stop (the run stays ``running`` for a later job);
    otherwise write for :data:`SLICE_SECONDS` and queue the rest as a new job."""
    try:
        job = platform.file_run(run_id)
    except NotFound:
        return "gone"
    if job["state"] == "queued":
        platform.set_file_run_state(run_id, "running", only_from=("queued",))
    elif job["state"] != "running":
        return job["state"]
    params = job["params"]
    user, app, entity = params["username"], job["app"], job["entity"]
    try:
        sheet = read(params["filename"], platform.file_run_content(run_id))
    except FileProblem as exc:
        platform.set_file_run_state(run_id, "failed", str(exc), only_from=("running",), user=user)
        return "failed"
    model = platform.entity_model(app, entity)
    mapping, size = params["mapping"], int(params.get("chunk") or CHUNK)
    started, written = time.monotonic(), 0
    while True:
        done = platform.file_run(run_id)["done"]
        if done >= len(sheet.rows):
            platform.set_file_run_state(run_id, "done", only_from=("running",), user=user)
            return "done"
        if chunks is not None and written >= chunks:
            return "running"
        if chunks is None and time.monotonic() - started > SLICE_SECONDS:
            platform.enqueue(JOB, run_id)
            return "continued"
        end = min(done + size, len(sheet.rows))
        try:
            with platform.file_run_step(run_id, done, end, user) as step:
                converter = Converter(platform, step.records, app, model)
                for line, cells in sheet.rows[done:end]:
                    found = _attempt(step, converter, app, entity, sheet.header, cells, mapping)
                    if found:
                        step.reject(line, cells, "; ".join(f"{f}: {m}" if f else m for f, m in found))
        except Conflict:
            return "taken"  # another job moved the run on (or it was cancelled): it goes on from there
        except Exception as exc:  # noqa: BLE001 - the run says why it stopped; the chunk rolled back
            log.exception("import run %s failed at rows %s-%s", run_id, done + 1, end)
            platform.set_file_run_state(run_id, "failed", f"rows {done + 1}-{end}: {exc}", only_from=("running",),
                                     user=user)
            return "failed"
        written += 1


def rejected_csv(platform, run_id: int, header: list[str], error_label: str = "error") -> bytes:
    """The refused rows in file order: the file's columns and the error (UTF-8 with a BOM and
    ``;``, which Excel opens as it is in Russian offices)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([*header, error_label])
    for r in platform.file_run_rejects(run_id):
        writer.writerow([*r["cells"], r["error"]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
