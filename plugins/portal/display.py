"""How a portal page shows and asks for values: labels, inputs, choice and link titles."""
from __future__ import annotations

from runtime.plugin_api import LoomError, current_actor, t, tt



def N_(message: str) -> str:  # noqa: N802  (marks a string for extraction; t() translates it when shown)
    return message


SYSTEM = {"number": (N_("Number"), "string"), "status": (N_("Status"), "status"),
          "created_at": (N_("Created"), "datetime"), "updated_at": (N_("Updated"), "datetime"),
          "id": (N_("No."), "integer")}


class Display:
    def __init__(self, platform, app: str, entity: str):
        self.platform, self.app = platform, app
        self.entity = platform.entity_model(app, entity)
        self._titles: dict = {}

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
        the signed-in visitor may read."""
        kind = self.kind(name)
        if kind == "status":
            return [(s["name"], tt(s.get("title")) or s["name"]) for s in self.entity.statuses]
        f = self.field(name)
        if kind == "choice":
            return [(c.value, tt(c.title) if c.title else c.value) for c in f.choices]
        if kind == "boolean":
            return [("true", t("Yes")), ("false", t("No"))]
        if kind == "link":
            me = current_actor()
            if me is None:
                return []
            app, entity = self._target(f)
            target = self.platform.entity_model(app, entity)
            try:
                rows = self.platform.records(me.username).find(app, entity, sort=[target.title_field or "id"],
                                                               limit=200)
            except LoomError:
                return []
            return [(str(r["id"]), str(r.get(target.title_field) or r.get("number") or r["id"])) for r in rows]
        return []

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
