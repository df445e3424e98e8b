"""``portal.yaml`` read into pages: what each page shows, fills in and lets a user do.

A page names its fields; only those reach the page's HTML and JSON (``visible``),
and a form takes only those from the request (``form_data``), plus the
server-side values of ``set:``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SYSTEM_FIELDS = {"number", "status", "created_at", "updated_at", "id"}
INVITE_DAYS = 7
RESET_HOURS = 2


@dataclass(frozen=True)
class Page:
    name: str
    kind: str  # list, form, record, search
    entity: str
    title: dict | str | None
    fields: tuple
    filter: str | None = None
    filters: tuple = ()  # fields the visitor may filter a list by
    sort: tuple = ()
    page_size: int = 20
    anonymous: bool = False
    record_page: str | None = None
    comments: bool = False
    transitions: tuple = ()
    actions: tuple = ()  # buttons of a record page: {name, title, script}
    set: dict = field(default_factory=dict)
    suggest: str | None = None  # a search page whose matches a form suggests while typing
    confirmation: dict | None = None  # {email_field, subject, body}
    helpful: bool = False
    spec: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Portal:
    app: str
    title: dict | str | None
    organisation_entity: str | None
    inviters: tuple
    roles: tuple  # the app roles an invited contact gets
    menu: tuple
    pages: dict

    def home(self) -> Page | None:
        for name in self.menu:
            if self.pages[name].kind != "form" or not self.pages[name].anonymous:
                return self.pages[name]
        return next(iter(self.pages.values()), None)


def read(app: str, section: dict | None) -> Portal | None:
    """The portal of an app's ``portal.yaml`` (validated at publish), or None without pages."""
    if not section or not section.get("pages"):
        return None
    pages = {}
    for spec in section["pages"]:
        pages[spec["name"]] = Page(
            name=spec["name"], kind=spec.get("kind", "list"), entity=spec["entity"], title=spec.get("title"),
            fields=tuple(spec.get("fields") or ()), filter=spec.get("filter"), filters=tuple(spec.get("filters") or ()),
            sort=tuple(spec.get("sort") or ()), page_size=int(spec.get("page_size", 20)),
            anonymous=bool(spec.get("anonymous")), record_page=spec.get("record_page"),
            comments=bool(spec.get("comments")), transitions=tuple(spec.get("transitions") or ()),
            actions=tuple(spec.get("actions") or ()),
            set=dict(spec.get("set") or {}), suggest=spec.get("suggest"), confirmation=spec.get("confirmation"),
            helpful=bool(spec.get("helpful")), spec=spec)
    menu = tuple(section.get("menu") or [n for n, p in pages.items() if p.kind in ("list", "search", "form")])
    return Portal(app, section.get("title"), section.get("organisation_entity"),
                  tuple(section.get("inviters") or ()), tuple(section.get("roles") or ()), menu, pages)


def visible(page: Page, record: dict) -> dict:
    """The record as the page may show it: its fields and nothing else (``id`` to link it)."""
    return {"id": record.get("id"), **{name: record.get(name) for name in page.fields}}


def set_values(page: Page, actor, user: dict | None) -> dict:
    """The hidden values a form fills in itself (``set:``), from the signed-in user or literals."""
    out = {}
    for name, value in page.set.items():
        if value == "user_organisation":
            raw = getattr(actor, "organization", None) or ""
            out[name] = int(raw.rpartition(":")[2]) if raw.rpartition(":")[2].isdigit() else None
        elif value in ("user_id", "$user"):  # $user: as in a transition's set (metamodel CURRENT_USER)
            out[name] = getattr(actor, "id", None)
        elif value == "user_email":
            out[name] = (user or {}).get("email")
        elif value == "user_full_name":
            out[name] = (user or {}).get("full_name")
        else:
            out[name] = value
    return out
