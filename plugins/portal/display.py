"""How a portal page shows and asks for values: labels, inputs, choice and link titles."""
from __future__ import annotations

from runtime.plugin_api import LoomError, current_actor, link_options, t, tt

LIMIT = 50  # the records a link's list offers at once; with more, the visitor types to search


def N_(message: str) -> str:  # noqa: N802  (marks a string for extraction; t() translates it when shown)
    return message


SYSTEM = {"number": (N_("Number"), "string"), "status": (N_("Status"), "status"),
          "created_at": (N_("Created"), "datetime"), "updated_at": (N_("Updated"), "datetime"),
          "id": (N_("No."), "integer")}


class Display:
    def __init__(self, platform, app: str, entity: str, portal=None, values: dict | None = None):
        """``portal``: where an anonymous visitor's link options come from; ``values``: a form's
        values, which a link field's filter reads (``None`` off a form: a list's filters)."""
        self.platform, self.app, self.portal = platform, app, portal
        self.entity = platform.entity_model(app, entity)
        self.values = values
        self._titles: dict = {}
        self._more: set = set()
        self.limit = LIMIT

    def field(self, name: str):
        return self.entity.fields.get(name)

    def label(self, name: str) -> str:
        f = self.field(name)
        if f is None:
            return t(SYSTEM.get(name, (name,))[0])
        return tt(f.title) or name

    def kind(self, name: str) -> str:
        """``string``, ``text``, ``choice``, ``link``, ``file``, ``status``, ``datetime``, ``boolean``..."""
        f = self.field(name)
        if f is None:
            return SYSTEM.get(name, (name, "string"))[1]
        if f.storage == "attachments":
            return "file"
        return f.type if f.type in ("text", "email", "phone") else f.value_type

    def required(self, name: str) -> bool:
        f = self.field(name)
        return bool(f is not None and f.required)

    def multiple(self, name: str) -> bool:
        f = self.field(name)
        return bool(f is not None and f.spec.get("multiple"))

    def status(self, name) -> str:
        for s in self.entity.statuses:
            if s["name"] == name:
                return tt(s.get("title")) or name
        return name or ""

    def options(self, name: str) -> list[tuple[str, str]]:
        """``(value, title)`` a filter or an input offers: choices, statuses, or linked records
        (:meth:`links`)."""
        kind = self.kind(name)
        if kind == "status":
            return [(s["name"], tt(s.get("title")) or s["name"]) for s in self.entity.statuses]
        f = self.field(name)
        if kind == "choice":
            return [(c.value, tt(c.title) if c.title else c.value) for c in f.choices]
        if kind == "boolean":
            return [("true", t("Yes")), ("false", t("No"))]
        if kind == "link":
            return self.links(name)
        return []

    def links(self, name: str, q: str = "", selected=()) -> list[tuple[str, str]]:
        """Up to ``LIMIT`` records a link field offers, titles containing ``q``; ``more(name)``
        says whether there were more. A signed-in visitor is offered what they may read and the
        field's filter allows for the form's values (what a save accepts); an anonymous one what
        an anonymous list page of the portal shows of the target entity, and nothing without one."""
        f = self.field(name)
        app, entity = self._target(f)
        selected = [v for v in selected or [(self.values or {}).get(name)] if str(v or "").isdigit()]
        try:
            if current_actor() is not None:
                rows = link_options(self.app, self.entity.name, name, q, selected, self.values, LIMIT + 1)
            else:
                rows = self._anonymous_links(app, entity, q, selected)
        except LoomError:
            return []
        if len(rows) > LIMIT:
            self._more.add(name)
        return [(str(i), title) for i, title in rows[:LIMIT + len(selected)]]

    def filtered(self, name: str) -> bool:
        """Whether a link field's options depend on the form's other values (its link filter)."""
        f = self.field(name)
        return bool(f is not None and (f.spec.get("filter") or f.spec.get("filter_script")))

    def more(self, name: str) -> bool:
        """Whether the link field ``name`` has more records than its list shows (after ``options``)."""
        return name in self._more

    def anonymous_page(self, app: str, entity: str):
        """The portal's anonymous list page of ``app.entity``: what anonymous visitors may see of it."""
        if self.portal is None or app != self.app:
            return None
        return next((p for p in self.portal.pages.values()
                     if p.anonymous and p.kind == "list" and p.entity == entity), None)

    def _anonymous_links(self, app: str, entity: str, q: str, selected) -> list[tuple[int, str]]:
        page = self.anonymous_page(app, entity)
        if page is None:
            return []
        title = self.platform.entity_model(app, entity).title_field or "number"
        system = self.platform.records()
        where = {f"{title}__contains": q} if q else None
        rows = system.page(app, entity, where=where, sort=[title, "id"], limit=LIMIT + 1, condition=page.filter)["items"]
        have = {r["id"] for r in rows}
        for value in selected:  # the chosen one stays on the list, if the page shows it
            if int(value) not in have:
                rows += system.page(app, entity, where={"id": int(value)}, condition=page.filter, limit=1)["items"]
        return [(r["id"], str(r.get(title) or r.get("number") or r["id"])) for r in rows]

    def offered(self, name: str, value) -> bool:
        """Whether an anonymous visitor may pick ``value`` for the link field ``name``: a record
        the portal shows anonymous visitors (the options above; a save as the system would take any)."""
        app, entity = self._target(self.field(name))
        page = self.anonymous_page(app, entity)
        if page is None or not str(value).isdigit():
            return False
        return bool(self.platform.records().page(app, entity, where={"id": int(value)}, condition=page.filter,
                                                 limit=1)["items"])

    def _target(self, f) -> tuple[str, str]:
        target = f.target
        return tuple(target.split(".", 1)) if "." in target else (self.app, target)

    def title_of(self, record: dict) -> str:
        return str(record.get(self.entity.title_field) or record.get("number") or record.get("id"))

    def show(self, name: str, value) -> str:
        """A value as text; files are listed by the template."""
        kind = self.kind(name)
        if kind == "status":
            return self.status(value)
        if value is None or value == "" or value == []:
            return ""
        if kind == "choice":
            return dict(self.options(name)).get(value, str(value))
        if kind == "boolean":
            return t("Yes") if value else t("No")
        if kind == "link":
            return self._link_title(self.field(name), value)
        if kind == "datetime":
            return str(value)[:16].replace("T", " ")
        return str(value)

    def _link_title(self, f, value) -> str:
        """The title of a linked record shown in a visible field (read as the system: the title
        alone, of a record the visitor's own record points at)."""
        key = (f.target, value)
        if key not in self._titles:
            app, entity = self._target(f)
            target = self.platform.entity_model(app, entity)
            try:
                row = self.platform.records().get(app, entity, int(value))
                self._titles[key] = str(row.get(target.title_field) or row.get("number") or value)
            except LoomError:
                self._titles[key] = str(value)
        return self._titles[key]
