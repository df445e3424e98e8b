"""What the pages need from metadata: columns, form layout, display values, options, parsing
a posted form back into record data."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from dataclasses import field as dc_field

from flask import url_for
from sqlalchemy import select

from metamodel import Field
from metamodel.geo import parse_point
from runtime.data import tables as platform
from runtime.data.files import Upload
from runtime.data.storage import fold_points
from runtime.errors import NotFound

from .i18n import N_, fmt_date, fmt_datetime, fmt_number, t, tt

PICKER_LIMIT = 200
SYSTEM_TITLES = {"id": "ID", "number": N_("Number"), "status": N_("Status"), "created_at": N_("Created"),
                 "created_by": N_("Created by"), "updated_at": N_("Updated"), "updated_by": N_("Updated by"),
                 "row_version": N_("Version")}
SYSTEM_TYPES = {"id": "integer", "number": "string", "status": "status", "created_at": "datetime",
                "created_by": "user", "updated_at": "datetime", "updated_by": "user", "row_version": "integer"}


def column_field(entity, name: str) -> Field | None:
    """The field behind a list column (system columns get a typed stand-in)."""
    if name in entity.fields:
        return entity.fields[name]
    if name in SYSTEM_TYPES:
        kind = SYSTEM_TYPES[name]
        return Field(name, kind, {"type": kind, "title": None}, entity)
    return None


def row_value(f: Field, row) -> object:
    """The value of ``f`` in a table row (a geo field's two columns as one point)."""
    return fold_points(f.entity, {c: row[c] for c in f.columns}, json=True)[f.name] if f.storage == "point" \
        else row[f.name]


def map_url(point) -> str:
    """An OpenStreetMap page centred on the point, with a marker."""
    lat, lon = f"{point['lat']:.6f}", f"{point['lon']:.6f}"
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"


def field_title(f: Field) -> str:
    if f.name in SYSTEM_TITLES and f.name not in f.entity.fields:
        return t(SYSTEM_TITLES[f.name])
    return tt(f.title)


def target_of(loom, f: Field):
    """The entity tables a link-like field points to."""
    app, _, name = f.target.rpartition(".")
    return loom.entity_tables(app or f.entity.app, name)


# ---------------------------------------------------------------------- display
@dataclass
class Cell:
    text: str
    href: str | None = None
    badge: str | None = None


@dataclass
class Titles:
    """Titles of the records, users and groups a page shows, loaded in one query per target."""

    loom: object
    actor: object
    wanted: dict = dc_field(default_factory=dict)  # key -> set of ids
    found: dict = dc_field(default_factory=dict)  # (key, id) -> (title, href)

    def want(self, f: Field, value) -> None:
        key = self._key(f)
        if key is None or value in (None, ""):
            return
        ids = value if isinstance(value, list) else [value]
        self.wanted.setdefault(key, set()).update(int(i) for i in ids)

    @staticmethod
    def _key(f: Field):
        if f.value_type in ("user", "group"):
            return f.value_type
        if f.value_type == "link" or f.type == "multilink":
            return f.target if "." in f.target else f"{f.entity.app}.{f.target}"
        return None

    def load(self) -> "Titles":
        for key, ids in self.wanted.items():
            ids = sorted(ids)
            if key == "user":
                u = platform.user
                with self.loom.reader.connect() as c:
                    for r in c.execute(select(u.c.id, u.c.username, u.c.full_name).where(u.c.id.in_(ids))):
                        self.found[(key, r.id)] = (r.full_name or r.username, None)
            elif key == "group":
                g = platform.group
                with self.loom.reader.connect() as c:
                    for r in c.execute(select(g.c.id, g.c.name, g.c.title).where(g.c.id.in_(ids))):
                        self.found[(key, r.id)] = (tt(r.title) or r.name, None)
            else:
                app, _, name = key.rpartition(".")
                try:
                    et = self.loom.entity_tables(app, name)
                except NotFound:  # an unpublished target shows bare ids
                    continue
                if not self.loom.permissions.allowed(self.actor, et.entity, "read"):
                    continue
                col = et.main.c[et.entity.title_field]
                query = select(et.main.c.id, col.label("title")).where(et.main.c.id.in_(ids))
                query = self.loom.permissions.restrict(query, et, self.actor)
                with self.loom.reader.connect() as c:
                    for r in c.execute(query):
                        self.found[(key, r.id)] = (str(r.title) if r.title is not None else f"#{r.id}",
                                                   url_for("ui.record_view", app=app, entity=name, record_id=r.id))
        self.wanted.clear()
        return self

    def get(self, f: Field, value) -> tuple[str, str | None]:
        return self.found.get((self._key(f), int(value)), (f"#{value}", None))


def transition_titles(entity) -> dict[str, str]:
    """{transition name: its title in the current language}."""
    return {tr["name"]: tt(tr.get("title", tr["name"])) for tr in entity.spec.get("transitions", [])}


def status_title(entity, name) -> str:
    for s in entity.statuses:
        if s["name"] == name:
            return tt(s.get("title", name))
    return name or ""


def status_category(entity, name) -> str:
    for s in entity.statuses:
        if s["name"] == name:
            return s.get("category", "open")
    return "open"


def display(f: Field, value, titles: Titles) -> Cell:
    """A value as the page shows it."""
    if f.type == "status":
        return Cell(status_title(f.entity, value), badge=status_category(f.entity, value))
    if value is None or value == "" or value == []:
        return Cell("")
    kind = f.value_type
    if f.type == "multilink":
        return Cell(", ".join(titles.get(f, v)[0] for v in value))
    if kind in ("link", "user", "group"):
        text, href = titles.get(f, value)
        return Cell(text, href)
    if kind == "geo":
        point = parse_point(value)
        return Cell(f"{point.lat:.6f}, {point.lon:.6f}", map_url(point.json()))
    if kind == "choice":
        for c in f.choices:
            if c.value == value:
                return Cell(tt(c.title) if c.title else c.value)
        return Cell(str(value))
    if kind == "boolean":
        return Cell(t("Yes") if value else t("No"))
    if kind == "file":
        return Cell(value.get("filename", "") if isinstance(value, dict) else str(value))
    if kind == "datetime":
        return Cell(fmt_datetime(value))
    if kind == "date":
        return Cell(fmt_date(value))
    if kind in ("decimal", "money"):
        return Cell(fmt_number(value, f.scale))
    if kind == "integer" and f.name not in ("id", "row_version"):
        return Cell(fmt_number(value))
    return Cell(str(value))


# ---------------------------------------------------------------------- form layout
@dataclass
class Section:
    title: str
    columns: int
    fields: list


@dataclass
class Tab:
    title: str
    sections: list


def layout(entity, hidden: frozenset) -> list[Tab]:
    """Tabs and sections of the entity's form; fields not on the form are not shown."""
    spec = entity.spec.get("form")
    tabs = []
    if spec:
        raw_tabs = spec.get("tabs") or [{"title": None, "sections": spec.get("sections", [])}]
        for tab in raw_tabs:
            sections = []
            for sec in tab.get("sections", []):
                fields = [entity.fields[n] for n in sec.get("fields", []) if n in entity.fields and n not in hidden]
                if fields:
                    sections.append(Section(tt(sec.get("title")), int(sec.get("columns", 1)), fields))
            if sections:
                tabs.append(Tab(tt(tab.get("title")), sections))
        return tabs
    fields = [f for f in entity.fields.values() if f.name not in hidden]
    return [Tab("", [Section("", 1, fields)])]


def form_fields(tabs: list[Tab]) -> list[Field]:
    return [f for tab in tabs for sec in tab.sections for f in sec.fields]


# ---------------------------------------------------------------------- values in and out of forms
def input_value(f: Field, value):
    """A stored (JSON) value as the form widget takes it."""
    if value is None:
        return [] if f.storage in ("child", "assoc") else ""
    if f.value_type == "datetime" and isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M")
        except ValueError:
            return value
    if f.storage == "child":
        return [{k: ("" if v is None else v) for k, v in row.items()} for row in value]
    if f.storage == "attachments":
        return [a["filename"] for a in value if isinstance(a, dict)]
    if f.value_type == "geo" and isinstance(value, dict):
        return {k: str(value.get(k, "")) for k in ("lat", "lon")}
    return value


def parse(fields: list[Field], form, files=None) -> tuple[dict, dict, dict]:
    """The record data a posted form means, the raw values to show again on an error, and the
    uploaded files (``{"photo": [Upload], "items[0].photo": [Upload]}``, for the record service)."""
    data, raw, uploads = {}, {}, {}
    for f in fields:
        if f.storage == "attachments":
            chosen = [Upload(u.filename, u.mimetype, u.stream) for u in (files.getlist(f.name) if files else [])
                      if u and u.filename]
            if chosen:
                uploads[f.name] = chosen
        elif f.storage == "child":
            rows, row_files = _rows(f, form, files)
            raw[f.name] = rows
            data[f.name] = [{k: (_number(f.children.get(k), v) if v != "" else None) for k, v in r.items()
                             if k != "id" or v} for r in rows]
            for r in data[f.name]:
                for key in ["id"] + [c.name for c in f.children.values() if c.type == "file"]:
                    if isinstance(r.get(key), str):
                        r[key] = int(r[key]) if r[key].isdigit() else None
            uploads.update(row_files)
        elif f.storage == "assoc":
            ids = [v for v in form.getlist(f.name) if v]
            raw[f.name] = [int(v) if v.isdigit() else v for v in ids]
            data[f.name] = raw[f.name]
        elif f.value_type == "boolean":
            raw[f.name] = data[f.name] = bool(form.get(f.name))
        elif f.value_type == "geo":  # two inputs, <name>-lat and <name>-lon; both empty: no point
            raw[f.name] = {k: form.get(f"{f.name}-{k}", "").strip() for k in ("lat", "lon")}
            given = {k: v.replace(",", ".") for k, v in raw[f.name].items()}
            data[f.name] = given if any(given.values()) else None
        else:
            text = form.get(f.name, "")
            text = text.strip() if f.value_type != "text" else text
            raw[f.name] = text
            if text == "":
                data[f.name] = None
            elif f.value_type in ("decimal", "money", "integer"):
                data[f.name] = _number(f, text)
            elif f.value_type in ("link", "user", "group"):
                data[f.name] = int(text) if text.isdigit() else text
            else:
                data[f.name] = text
    return data, raw, uploads


def _number(f: Field | None, text):
    """A number as people type it ("1 500,50") as the record service reads it."""
    if f is not None and f.value_type in ("decimal", "money", "integer") and isinstance(text, str):
        return text.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    return text


def _rows(f: Field, form, files=None) -> tuple[list[dict], dict]:
    """Child rows posted as ``<table>-<index>-<column>``; rows left blank are dropped. A file
    column posts the id of the row's file as ``<column>`` and a new one as ``<column>-file``;
    the new files come back as ``{"<table>[<row>].<column>": [Upload]}``, by the kept rows' order."""
    prefix = f"{f.name}-"
    keys = list(form) + (list(files) if files else [])
    indexes = sorted({int(k[len(prefix):].split("-", 1)[0]) for k in keys
                      if k.startswith(prefix) and k[len(prefix):].split("-", 1)[0].isdigit()})
    file_columns = [c.name for c in f.children.values() if c.type == "file"]
    rows, uploads = [], {}
    for i in indexes:
        row = {c: form.get(f"{prefix}{i}-{c}", "").strip() for c in f.children}
        new = {c: files.get(f"{prefix}{i}-{c}-file") for c in file_columns} if files else {}
        new = {c: u for c, u in new.items() if u and u.filename}
        if any(row.values()) or new:
            row_id = form.get(f"{prefix}{i}-id", "")
            if row_id:
                row["id"] = row_id
            for c, u in new.items():
                uploads[f"{f.name}[{len(rows)}].{c}"] = [Upload(u.filename, u.mimetype, u.stream)]
            rows.append(row)
    return rows, uploads


def _narrowed(loom, conn, f: Field, record, actor, query):
    if record is None:
        return query
    conditions = loom.link_filters.narrowing(conn, f, record, actor)
    return query.where(*conditions) if conditions else query


def link_depends(f: Field) -> str:
    """What a form sends when it asks for a filtered link's options, and which changes refresh
    them: the fields its filter reads (``$name``), or ``*`` (all of them) for a filter script."""
    if f.spec.get("filter_script"):
        return "*"
    return " ".join(dict.fromkeys(re.findall(r"\$(\w+)", f.spec.get("filter", ""))))


def options(loom, actor, f: Field, q: str = "", selected=(), record: dict | None = None,
            limit: int = PICKER_LIMIT) -> list[tuple[int, str]]:
    """Up to ``limit`` choices for a link-like field, matching ``q``, plus the selected ones.
    With ``record`` (the values of the record being edited) the field's link filter narrows them
    (docs/metadata.md, "Link filters")."""
    q = (q or "").strip()
    with loom.reader.connect() as c:
        if f.value_type == "user":
            u = platform.user
            query = select(u.c.id, u.c.username, u.c.full_name).where(u.c.is_active.is_(True))
            if q:
                query = query.where(u.c.username.ilike(f"%{q}%") | u.c.full_name.ilike(f"%{q}%"))
            query = _narrowed(loom, c, f, record, actor, query)
            rows = [(r.id, r.full_name or r.username) for r in c.execute(query.order_by(u.c.username)
                                                                          .limit(limit))]
        elif f.value_type == "group":
            g = platform.group
            query = select(g.c.id, g.c.name, g.c.title)
            if q:
                query = query.where(g.c.name.ilike(f"%{q}%"))
            query = _narrowed(loom, c, f, record, actor, query)
            rows = [(r.id, tt(r.title) or r.name) for r in c.execute(query.order_by(g.c.name).limit(limit))]
        else:
            et = target_of(loom, f)
            if not loom.permissions.allowed(actor, et.entity, "read"):
                return []
            col = et.main.c[et.entity.title_field]
            query = select(et.main.c.id, col.label("title")).where(et.main.c.deleted_at.is_(None))
            if q:
                query = query.where(col.ilike(f"%{q}%"))
            query = _narrowed(loom, c, f, record, actor, query)
            query = loom.permissions.restrict(query, et, actor).order_by(col, et.main.c.id).limit(limit)
            rows = [(r.id, str(r.title) if r.title is not None else f"#{r.id}") for r in c.execute(query)]
    have = {i for i, _ in rows}
    missing = [int(s) for s in selected if str(s).isdigit() and int(s) not in have]
    if missing:
        titles = Titles(loom, actor)
        for m in missing:
            titles.want(f, m)
        titles.load()
        rows = [(m, titles.get(f, m)[0]) for m in missing] + rows
    return rows
