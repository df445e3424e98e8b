"""The ``loom`` command: run the platform, manage apps, import data."""
from __future__ import annotations

import dataclasses
import json
import os
import socket
import sys
from pathlib import Path

import click

from metamodel import MetadataError, read_folder, validate_document
from metamodel.warnings import publish_warnings
from runtime.core.appstore import code_problems
from runtime.core.config import Settings
from runtime.data.fixtures import fixture_problems, load_fixtures

DEMO_APPS = Path(__file__).resolve().parent.parent / "apps_config"


def _loom(settings: Settings | None = None):
    return (settings or Settings.from_env()).make_loom()


def _fail(exc: Exception) -> None:
    if isinstance(exc, MetadataError):
        for p in exc.problems:
            click.echo(f"error: {p}", err=True)
        click.echo(f"{len(exc.problems)} problem(s); nothing was changed", err=True)
    else:
        click.echo(f"error: {getattr(exc, 'detail', exc)}", err=True)
        script = (getattr(exc, "extra", None) or {}).get("script")
        if script:  # the web shows end users a safe message; whoever runs loom gets the script's line and reason
            where = script["name"] + (f", line {script['line']}" if script.get("line") else "")
            click.echo(f"  {where}: {script.get('message')}", err=True)
    sys.exit(1)


class LoomGroup(click.Group):
    """``loom``'s commands, and those plugins add (``loom_cli_commands``), looked up only
    when a command is not one of the platform's own."""

    def _plugin_commands(self) -> dict[str, click.Command]:
        if not hasattr(self, "_from_plugins"):
            host = Settings.from_env().plugin_host()
            self._from_plugins = {c.name: c for c in host.cli_commands(reserved=self.commands)}
        return self._from_plugins

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self._plugin_commands()})

    def get_command(self, ctx, name):
        return super().get_command(ctx, name) or self._plugin_commands().get(name)


@click.group(cls=LoomGroup)
def main():
    """Loom: business apps as versioned metadata."""


@main.command()
def init():
    """Create the instance folder and database, and an admin with a generated password."""
    loom = _loom()
    _ensure_admin(loom)


def _ensure_admin(loom) -> str | None:
    from runtime.security.accounts import generate_password
    if loom.accounts.exists("admin"):
        return None
    password = generate_password()
    loom.accounts.create_user("admin", password, full_name="Администратор", is_admin=True)
    click.echo(f"Created user admin with password: {password}")
    click.echo("(shown once; change it with: loom users password admin)")
    return password


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--demo/--no-demo", default=True, show_default=True, help="install the shipped apps with demo data")
def run(host, port, demo):
    """Serve the web UI and API (embedded SQLite and in-process jobs by default)."""
    from runtime.web import create_app
    settings = Settings.from_env()
    if settings.base_url is None:  # links in e-mails and notices point where this server listens
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        settings = dataclasses.replace(settings, base_url=f"http://{shown}:{port}")
    loom = _loom(settings)
    _ensure_admin(loom)
    if demo:
        _install_demo(loom)
    app = create_app(settings, loom)
    if loom.redis_url is None:
        from runtime.behaviour.scheduler import start_embedded_thread
        from runtime.extension.platform import Platform
        start_embedded_thread(loom)  # timers, cron schedules and e-mail, in this process
        loom.plugins.worker_started(Platform(loom))  # jobs run here: resume what a stop left unfinished
    else:
        click.echo("Jobs go to Redis: run `loom scheduler` and `loom worker` as well")
    click.echo(f"Loom is running at http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs/)")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.command()
@click.option("--burst", is_flag=True, help="exit when the queue is empty")
def worker(burst):
    """Run background jobs (timers, schedules, e-mail) from Redis (LOOM_REDIS_URL)."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    from runtime.behaviour import jobs
    settings = Settings.from_env()
    if not settings.redis_url:
        _fail(Exception("LOOM_REDIS_URL is not set: without Redis, `loom run` runs jobs itself"))
    loom = _loom(settings)
    jobs.serve(loom)  # fail now, not on the first job, if the database is unreachable
    connection = Redis.from_url(settings.redis_url)
    name = jobs.queue_name()
    from runtime.extension.platform import Platform
    loom.plugins.worker_started(Platform(loom))  # e.g. imports a stopped worker left half done
    # SimpleWorker runs jobs in this process: the Loom built above (apps, compiled scripts,
    # connection pool) serves every job, where a forking worker would rebuild it per job.
    SimpleWorker([Queue(name, connection=connection)], connection=connection,
                 name=f"{name}.{socket.gethostname()}.{os.getpid()}").work(burst=burst, logging_level="INFO")


@main.command()
@click.option("--once", is_flag=True, help="run one tick and exit")
@click.option("--interval", default=1.0, show_default=True, help="seconds between ticks")
def scheduler(once, interval):
    """Hand due timers, cron slots and e-mails to the workers (or run them, without Redis)."""
    import logging

    from runtime.behaviour.scheduler import Scheduler
    logging.basicConfig(format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("loom").setLevel(logging.INFO)  # what each tick handed out; not alembic's chatter
    loom = _loom()
    if loom.redis_url is None:
        click.echo("LOOM_REDIS_URL is not set: jobs run in this process", err=True)
    runner = Scheduler(loom)
    if once:
        click.echo(" ".join(f"{k}={v}" for k, v in runner.tick().items()))
        return
    runner.run_forever(interval)


def _install_demo(loom) -> None:
    from runtime.data.fixtures import load_fixtures
    for folder in sorted(p for p in DEMO_APPS.iterdir() if (p / "app.yaml").is_file()):
        name = folder.name
        if name in loom.live:
            continue
        try:
            published = loom.store.install(folder, author="demo")
        except MetadataError as exc:
            _fail(exc)
        count = load_fixtures(loom, published.app)
        click.echo(f"Installed demo app {published.app} (version {published.number}, {count} records)")


@main.group()
def db():
    """The platform's own tables."""


@db.command("upgrade")
def db_upgrade():
    """Apply the platform's Alembic revisions."""
    _loom()
    click.echo("database is up to date")


@main.group()
def apps():
    """Validate, install, publish, diff, export and roll back apps."""


@apps.command("validate")
@click.argument("folders", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
def apps_validate(folders):
    """Check app folders; print every problem with file, line and path."""
    failed = False
    offered = Settings.from_env().plugin_host().capabilities()
    for folder in folders:
        try:
            doc, source = read_folder(folder)
            app = validate_document(doc, source, capabilities=offered)
            problems = code_problems(app, source) + fixture_problems(app, source)
            if problems:
                raise MetadataError(problems)
            click.echo(f"{folder}: ok ({app.name}, {len(app.entities)} entities)")
        except MetadataError as exc:
            failed = True
            for p in exc.problems:
                click.echo(f"{Path(folder) / p.file}:{p.line or ''} {p.path}: {p.message}", err=True)
    sys.exit(1 if failed else 0)


@apps.command("install")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--fixtures", is_flag=True, help="also load the app's fixtures")
@click.option("--author", default="cli")
@click.option("--comment")
def apps_install(folder, fixtures, author, comment):
    """Install (or publish a new version of) an app from a folder."""
    loom = _loom()
    try:
        if fixtures:  # a fixture that cannot load stops the install before anything is written
            doc, source = read_folder(folder)
            problems = fixture_problems(validate_document(doc, source, capabilities=loom.plugins.capabilities(),
                                                          external={n: live.app for n, live in loom.live.items()}),
                                        source)
            if problems:
                raise MetadataError(problems)
        published = loom.store.install(folder, author=author, comment=comment)
        _report(published)
        if fixtures:
            click.echo(f"loaded {load_fixtures(loom, published.app)} fixture records")
        _warnings(loom, published.app)
    except Exception as exc:  # noqa: BLE001 - every failure is reported the same way
        _fail(exc)


@apps.command("publish")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--author", default="cli")
@click.option("--comment", required=True)
def apps_publish(folder, author, comment):
    """Publish a folder as the next version of its app."""
    loom = _loom()
    try:
        published = loom.store.install(folder, author=author, comment=comment)
        _report(published)
        _warnings(loom, published.app)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)


def _warnings(loom, name: str) -> None:
    """What publishing the live app may have got wrong (metamodel/warnings.py): said, never blocking."""
    for warning in publish_warnings(None, loom.live[name].app, loom.store.group_names()):
        click.echo(f"warning: {warning}", err=True)


def _report(published) -> None:
    if published.unchanged:
        click.echo(f"{published.app}: unchanged, still version {published.number}")
        return
    click.echo(f"{published.app}: published version {published.number} ({published.hash[:12]})")
    for line in published.plan:
        click.echo(f"  storage: {line}")


@apps.command("diff")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def apps_diff(folder):
    """Show what publishing FOLDER would change, and the storage plan."""
    from metamodel import read_folder
    loom = _loom()
    try:
        doc, source = read_folder(folder)
        app, changes, plan = loom.store.compare(doc, source)
    except MetadataError as exc:
        _fail(exc)
    for change in changes:
        click.echo(str(change))
    for line in plan.describe():
        click.echo(f"storage: {line}")
    if not changes:
        click.echo("no changes")
    live = loom.live.get(app.name)
    for warning in publish_warnings(live.app if live else None, app, loom.store.group_names()):
        click.echo(f"warning: {warning}")


@apps.command("export")
@click.argument("name")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--version", "number", type=int, help="default: the live version")
def apps_export(name, folder, number):
    """Write a published version back to a folder of YAML."""
    loom = _loom()
    try:
        files = loom.store.export(name, folder, number)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    click.echo(f"wrote {len(files)} files to {folder}")


@apps.command("rollback")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--author", default="cli")
@click.option("--map", "mapping", multiple=True, metavar="ENTITY.STATUS=TARGET",
              help="move records in a status the old version lacks to one it has")
def apps_rollback(name, version, author, mapping):
    """Publish an earlier version again (as a new version)."""
    loom = _loom()
    status_map = {}
    for item in mapping:
        where, _, target = item.partition("=")
        entity, _, status = where.partition(".")
        if not (entity and status and target):
            _fail(Exception(f"--map {item!r}: write it as ENTITY.STATUS=TARGET, e.g. request.waiting=in_work"))
        status_map.setdefault(entity, {})[status] = target
    try:
        _report(loom.store.rollback(name, version, author, status_map=status_map))
    except Exception as exc:  # noqa: BLE001
        _fail(exc)


@apps.command("list")
def apps_list():
    """Installed apps and their live versions."""
    for app in _loom().store.list():
        click.echo(f"{app['name']:20} version {app['version']}  {(app['hash'] or '')[:12]}  {app['published_at']}")


@apps.command("versions")
@click.argument("name")
def apps_versions(name):
    """The version history of an app."""
    try:
        rows = _loom().store.versions(name)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    for v in rows:
        note = f" (rollback of {v['rollback_of']})" if v["rollback_of"] else ""
        click.echo(f"{v['number']:4}  {v['hash'][:12]}  {v['created_at']}  {v['author']}: {v['comment'] or ''}{note}")


@apps.command("purge")
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def apps_purge(name, yes):
    """Delete the retired columns and tables of an app for good."""
    from runtime.data.purge import purge, retired
    loom = _loom()
    items = retired(loom, name)
    if not items:
        click.echo("nothing is retired")
        return
    for item in items:
        click.echo(f"  {item}")
    if not yes:
        click.confirm(f"Delete these {len(items)} retired columns/tables and their data for good?", abort=True)
    click.echo(f"purged {purge(loom, name)} items")


@main.group()
def scripts():
    """Check and run an app's script hooks."""


@scripts.command("check")
@click.argument("name")
def scripts_check(name):
    """Compile every script of the live app NAME and check the functions metadata names."""
    loom = _loom()
    if name not in loom.live:
        _fail(Exception(f"no published app {name!r}"))
    problems = code_problems(loom.live[name].app)
    for p in problems:
        click.echo(f"error: {p}", err=True)
    click.echo(f"{len(loom.live[name].app.scripts)} scripts, {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


@scripts.command("run")
@click.argument("name")
@click.argument("ref", metavar="FILE.py:FUNCTION")
def scripts_run(name, ref):
    """Run a scheduled script of app NAME now, as the scheduler would."""
    loom = _loom()
    try:
        result = loom.hooks.run_scheduled(name, ref)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    for line in result["logs"]:
        click.echo(f"log: {line}")
    click.echo(f"ok: {result['result']!r}")


@main.command("generate")
@click.argument("name")
@click.argument("generator")
@click.option("--at", "at", metavar="YYYY-MM-DD", help="the day whose period to generate (default: today)")
def generate(name, generator, at):
    """Run record generator GENERATOR of app NAME now: each period's records once, however often it runs."""
    import datetime as dt
    loom = _loom()
    try:
        day = dt.date.fromisoformat(at) if at else None
    except ValueError:
        _fail(ValueError(f"--at {at!r} is not a date like 2026-03-01"))
    try:
        result = loom.generators.run(name, generator, day)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    for error in result["errors"]:
        click.echo(f"error: {error['source']} row {error['row'] or '-'} period {error['period']}: {error['error']}",
                   err=True)
    click.echo(f"{result['day']}: {result['created']} created, {result['existing']} made before, "
               f"{result['outside']} outside validity, {result['failed']} failed")
    sys.exit(1 if result["failed"] else 0)


@main.command("rollups")
@click.argument("name")
@click.option("--entity", help="only this entity's rollup fields")
@click.option("--field", help="only this rollup field")
def rollups(name, entity, field):
    """Recompute the stored values of app NAME's rollup fields from the records as they are."""
    loom = _loom()
    try:
        if name not in loom.live:
            raise KeyError(f"no published app {name!r}")
        result = loom.rollups.recompute(name, entity, field)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    if not result:
        click.echo("no rollup fields matched")
    for key, changed in result.items():
        click.echo(f"{key}: {changed} record(s) changed")


@main.command("batch")
@click.argument("name")
@click.argument("batch")
@click.argument("params", nargs=-1, metavar="[PARAM=VALUE]...")
@click.option("--resume", "run_id", type=int, help="go on with run RUN_ID from its last committed chunk instead")
def batch(name, batch, params, run_id):
    """Run batch BATCH of app NAME with PARAM=VALUE parameters (e.g. period=2026-03), as the system:
    queued for a worker with Redis, here to the end without. A finished run with the same
    parameters is replaced; a crashed or failed one is resumed."""
    loom = _loom()
    values = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            _fail(ValueError(f"{item!r}: write parameters as name=value"))
        values[key] = value
    try:
        loom.batches.spec(name, batch)
        run = loom.batches.resume(run_id) if run_id else loom.batches.start(name, batch, values)
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    click.echo(f"run {run['id']} {run['run_key']}: {run['state']}, {run['done']} of {run['total']} records, "
               f"{run['results']} results" + (f"; error: {run['error']}" if run["error"] else ""))
    sys.exit(1 if run["state"] == "failed" else 0)


@main.command("import")
@click.argument("target", metavar="APP.ENTITY")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--batch", default=5000, show_default=True)
@click.option("--skip", default=0, help="data rows to skip (resume after a failed import)")
def import_(target, path, batch, skip):
    """Import records from a CSV file whose header names the fields."""
    from runtime.data.importer import import_csv, open_csv
    app, _, entity = target.partition(".")
    loom = _loom()
    with open_csv(path) as stream, click.progressbar(length=0, label=f"importing {target}",
                                                     show_pos=True) as bar:
        def progress(done):
            bar.update(done - bar.pos)
        try:
            result = import_csv(loom, app, entity, stream, batch=batch, skip=skip, progress=progress)
        except Exception as exc:  # noqa: BLE001
            _fail(exc)
    click.echo(f"imported {result.rows} rows in {result.batches} batches")


@main.group()
def users():
    """Platform users and API tokens."""


@users.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, help="a role of an app as app:role (service_desk:agent), or analyst")
@click.option("--admin", is_flag=True)
def users_create(username, roles, admin):
    from runtime.security.accounts import generate_password
    password = generate_password()
    try:
        _loom().accounts.create_user(username, password, roles=roles, is_admin=admin)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"created {username} with password: {password}")


@users.command("password")
@click.argument("username")
@click.password_option()
def users_password(username, password):
    _loom().accounts.set_password(username, password)
    click.echo("password changed")


@users.command("token")
@click.argument("username")
@click.option("--name", default="cli")
def users_token(username, name):
    """Issue an API token for USERNAME."""
    from sqlalchemy import select

    from runtime.data import tables as platform
    loom = _loom()
    with loom.engine.connect() as c:
        row = c.execute(select(platform.user.c.id, platform.user.c.external)
                        .where(platform.user.c.username == username)).first()
    if row is None:
        _fail(Exception(f"no user {username}"))
    if row.external:  # the API would refuse the token on every call
        _fail(Exception(f"{username} is an external contact: they reach the portal only, and the API takes "
                        f"no token of theirs"))
    click.echo(loom.accounts.issue_token(row.id, name))


@main.group()
def audit():
    """The append-only audit log."""


@audit.command("verify")
@click.option("--anchor", "anchor_file", type=click.File("r"), help="an anchor printed by `loom audit anchor`")
def audit_verify(anchor_file):
    """Check the audit log's hash chain; name the first changed or missing entry (exit 1).

    With LOOM_AUDIT_KEY set, the keyed part must verify under the key; with --anchor, the log
    must still hold the anchored head."""
    from runtime.security.audit import check_anchor, verify
    loom = _loom()
    with loom.reader.connect() as c:
        verdict = verify(c, key=loom.audit.key)
        problem = None
        if verdict.ok and anchor_file is not None:
            if not loom.audit.key:
                _fail(Exception("checking an anchor needs LOOM_AUDIT_KEY"))
            try:
                anchor = json.load(anchor_file)
            except ValueError as exc:
                _fail(Exception(f"{anchor_file.name}: not an anchor: {exc}"))
            problem = check_anchor(c, loom.audit.key, anchor if isinstance(anchor, dict) else {})
    if not verdict.ok:
        click.echo(f"audit log is broken after {verdict.entries} good entries: {verdict.problem}", err=True)
        sys.exit(1)
    if problem:
        click.echo(f"audit log does not hold the anchor: {problem}", err=True)
        sys.exit(1)
    click.echo(f"ok, {verdict.entries} entries" + (f" (last hash {verdict.head})" if verdict.entries else "")
               + (", anchor held" if anchor_file is not None else ""))


@audit.command("anchor")
def audit_anchor():
    """Print the chain's head signed with LOOM_AUDIT_KEY, as JSON: keep it off this machine."""
    import datetime as dt
    from runtime.security.audit import sign_anchor, verify
    loom = _loom()
    if not loom.audit.key:
        _fail(Exception("an anchor is signed with the audit key: set LOOM_AUDIT_KEY"))
    with loom.reader.connect() as c:
        verdict = verify(c, key=loom.audit.key)
    if not verdict.ok:
        _fail(Exception(f"the audit log does not verify, no anchor made: {verdict.problem}"))
    click.echo(json.dumps({"seq": verdict.entries, "hash": verdict.head,
                           "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                           "signature": sign_anchor(loom.audit.key, verdict.entries, verdict.head)}))


@main.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
def backup_(out):
    """Write the database, the file store and a manifest to the archive OUT (.tar.gz)."""
    from runtime.core.backup import BackupError, backup
    loom = _loom()
    try:
        manifest = backup(loom, out)
    except BackupError as exc:
        _fail(exc)
    rows = sum(manifest["tables"].values())
    click.echo(f"backed up {len(manifest['apps'])} app(s), {rows} rows in {len(manifest['tables'])} tables "
               f"and the file store to {out}")


@main.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
def restore_(archive):
    """Put a backup into this (empty) instance, then compare it with the backup's manifest."""
    from runtime.core.backup import BackupError, restore
    try:
        result = restore(archive, Settings.from_env())
    except BackupError as exc:
        _fail(exc)
    for problem in result.problems:
        click.echo(f"error: {problem}", err=True)
    if not result.ok:
        sys.exit(1)
    click.echo(f"restored {len(result.manifest['apps'])} app(s) and {sum(result.tables.values())} rows; "
               f"every table matches the backup and the audit chain verifies")


@main.group()
def plugins():
    """Installed plugins."""


@plugins.command("list")
def plugins_list():
    """Every installed plugin: name, distribution and version, state, and the hooks it implements."""
    host = Settings.from_env().plugin_host()
    host.check(reserved_commands=main.commands)  # a hook that fails or clashes shows as failed
    rows = [(i.name, f"{i.dist} {i.version}", i.state, ", ".join(h.removeprefix("loom_") for h in i.hooks))
            for i in host.infos]
    widths = [max(len(str(r[k])) for r in rows + [("name", "distribution", "state", "hooks")]) for k in range(3)]
    for row in [("name", "distribution", "state", "hooks"), *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths)) + "  " + row[3])
    for failure in host.failures:
        click.echo(f"error: {failure}", err=True)
