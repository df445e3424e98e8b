"""Geographic points: a ``geo`` field, ``near`` in queries and aggregation rules, on both backends.

A point is ``{"lat", "lon"}`` in JSON, two indexed columns in the table. ``near`` is checked
against a Python haversine oracle over a few hundred points (the antimeridian and a pole
included), and EXPLAIN shows the list query reading the bounding box off the index.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import event, insert

from metamodel import MetadataError, load_app
from metamodel.geo import Point, bounding_box, distance, parse_near
from runtime import clock
from runtime.core.config import Settings
from runtime.data.importer import import_csv
from runtime.data.records import SYSTEM, Actor
from runtime.web import create_app
from tests.api.conftest import Client
from tests.ui.conftest import PASSWORD, Browser

EKB = Point(56.838011, 60.597474)  # Yekaterinburg, the 1905 Square
ROLES = {op: ["dispatcher"] for op in ("read", "create", "update", "delete")}
APP = {
    "app": {"name": "city", "title": "City", "roles": [{"name": "dispatcher"}]},
    "entities": {
        "incident": {
            "title": "Incident", "number": "INC-{00000}", "title_field": "title",
            "fields": {
                "title": {"type": "string", "required": True},
                "location": {"type": "geo", "title": {"ru": "Место", "en": "Location"}},
                "reporter": {"type": "string"},
                "is_mass": {"type": "boolean", "default": False},
                "mass": {"type": "link", "entity": "incident"},
            },
            "statuses": [{"name": "open", "initial": True}, {"name": "closed", "category": "done"}],
            "permissions": ROLES,
            "views": [{"name": "all", "columns": ["number", "title", "location"], "default": True},
                      {"name": "near_centre", "columns": ["number", "title"],
                       "filters": [{"field": "location", "op": "near", "value": f"{EKB.lat},{EKB.lon},500"}]}],
            "aggregations": [{
                "name": "mass_outage", "window": "1 hour", "near": {"field": "location", "within": "500 m"},
                "distinct": "reporter", "min_count": 3, "where": "not is_mass", "link_field": "mass",
                "parent": {"find": "is_mass", "set": {"is_mass": "True", "title": "'Массовое отключение'"}},
            }],
        },
    },
}


def offset(p: Point, north_m: float, east_m: float) -> Point:
    """A point ``north_m`` metres north and ``east_m`` east of ``p`` (small offsets)."""
    import math
    lat = p.lat + math.degrees(north_m / 6_371_008.8)
    lon = p.lon + math.degrees(east_m / (6_371_008.8 * math.cos(math.radians(p.lat))))
    return Point(lat, (lon + 180) % 360 - 180)


@pytest.fixture
def city(loom):
    loom.store.publish(APP, author="tester")
    return loom


def add(loom, title, point, **extra):
    return loom.records.create("city", "incident", {"title": title, "location": point and point.json(), **extra})


# ---------------------------------------------------------------------- the field
def test_a_point_is_stored_validated_and_returned_as_json(city):
    made = add(city, "Обрыв провода", EKB)
    assert made["location"] == {"lat": EKB.lat, "lon": EKB.lon}
    assert "location__lat" not in made
    again = city.records.get("city", "incident", made["id"])
    assert again["location"] == made["location"]
    moved = city.records.update("city", "incident", made["id"], {"location": "56.84, 60.6"}, made["row_version"])
    assert moved["location"] == {"lat": 56.84, "lon": 60.6}
    cleared = city.records.update("city", "incident", made["id"], {"location": None}, moved["row_version"])
    assert cleared["location"] is None
    for bad, says in (({"lat": 91, "lon": 0}, "latitude must be between -90 and 90"),
                      ({"lat": 0, "lon": -180.5}, "longitude must be between -180 and 180"),
                      ({"lat": "north", "lon": 1}, "latitude must be a number"),
                      ({"lat": 1}, "a point is"), ("56.8", "a point is")):
        with pytest.raises(Exception) as err:
            add(city, "Плохая точка", None, location=bad)
        assert says in str(err.value) and "location" in str(err.value), (bad, str(err.value))


def test_the_audit_and_scripts_see_one_point(city):
    made = add(city, "Обрыв", EKB)
    from runtime.data import tables as platform
    a = platform.audit
    with city.reader.connect() as c:
        after = c.execute(a.select().where(a.c.record_id == made["id"], a.c.action == "create")).mappings().one()["after"]
    assert after["location"] == EKB.json() and "location__lat" not in after


# ---------------------------------------------------------------------- near
def scatter(seed: int) -> list[Point]:
    """Points around Yekaterinburg (up to 2 km), on both sides of the antimeridian, near the pole."""
    rnd = random.Random(seed)
    out = [offset(EKB, rnd.uniform(-2000, 2000), rnd.uniform(-2000, 2000)) for _ in range(240)]
    dateline = Point(10.0, 179.9995)
    out += [offset(dateline, rnd.uniform(-900, 900), rnd.uniform(-900, 900)) for _ in range(40)]
    out += [Point(89.9990 + rnd.uniform(-0.0009, 0.0009), rnd.uniform(-180, 180)) for _ in range(40)]
    return out


@pytest.mark.parametrize("centre, radius", [(EKB, 500), (offset(EKB, 300, -700), 1200), (Point(10.0, 179.9995), 700),
                                            (Point(10.0, -179.9999), 300), (Point(89.9990, 0.0), 150)])
def test_near_finds_exactly_the_points_within_the_radius(city, centre, radius):
    points = scatter(7)
    admin = Actor(None, "admin", is_admin=True)
    et = city.entity_tables("city", "incident")  # 320 rows: straight into the table, not one change each
    now = clock.now()
    with city.engine.begin() as c:
        c.execute(insert(et.main), [{"number": f"INC-{i:05d}", "status": "open", "title": f"p{i}",
                                     "location__lat": p.lat, "location__lon": p.lon, "created_at": now,
                                     "updated_at": now, "row_version": 1, "meta_version": 1, "is_mass": False}
                                    for i, p in enumerate(points)])
    expected = sorted(f"p{i}" for i, p in enumerate(points) if distance(p, centre) <= radius)
    assert expected, "the scatter must put some points inside"
    found = city.records.find("city", "incident", {"location__near": f"{centre.lat},{centre.lon},{radius}"},
                              limit=200, actor=admin)
    assert sorted(r["title"] for r in found) == expected
    # the same through a list: {lat, lon, within} as a script would write it
    found = city.records.find("city", "incident", {"location__near": {"lat": centre.lat, "lon": centre.lon,
                                                                       "within": f"{radius} m"}}, limit=200)
    assert sorted(r["title"] for r in found) == expected


def test_the_bounding_box_holds_the_circle():
    rnd = random.Random(3)
    for _ in range(2000):
        centre = Point(rnd.uniform(-89.9, 89.9), rnd.uniform(-180, 180))
        radius = rnd.choice([10, 500, 5000, 80_000])
        p = offset(centre, rnd.uniform(-radius, radius), rnd.uniform(-radius, radius))
        if distance(p, centre) > radius:
            continue
        box = bounding_box(centre, radius)
        assert box.lat_min <= p.lat <= box.lat_max, (centre, radius, p)
        assert not box.lons or any(w <= p.lon <= e for w, e in box.lons), (centre, radius, p, box)


def test_near_through_the_api_and_its_errors(city, tmp_path):
    close, far = add(city, "Рядом", offset(EKB, 120, 80)), add(city, "Далеко", offset(EKB, 900, 0))
    app = create_app(Settings(tmp_path, city.database_url), city)
    api = Client(app.test_client(), city.accounts.issue_token(city.accounts.create_user("root", None, is_admin=True)))
    body = api.get(f"/api/v1/city/incident?location__near={EKB.lat},{EKB.lon},500&count=exact").get_json()
    assert [r["number"] for r in body["items"]] == [close["number"]] and body["count"] == 1
    assert [r["number"] for r in api.get("/api/v1/city/incident?view=near_centre").get_json()["items"]] == \
        [close["number"]]  # a view's near filter
    assert far["number"] in {r["number"] for r in api.get("/api/v1/city/incident").get_json()["items"]}
    for query, says in (("location__near=56.8,60.6", "lat,lon,radius_m"), ("location__eq=1", "near"),
                        ("title__near=56.8,60.6,100", "needs a geo field"), ("sort=location", "cannot sort"),
                        ("location__near=56.8,60.6,2000km", "at most 1000 km")):
        r = api.get(f"/api/v1/city/incident?{query}")
        assert r.status_code == 400 and says in r.get_json()["detail"], (query, r.get_json())
    assert api.get("/api/v1/city/incident?location__isnull=true").get_json()["items"] == []


def test_the_bounding_box_is_read_off_the_index(city):
    """EXPLAIN the very statement a near-filtered list runs, over 20,000 points spread over the
    city's region: the database searches the (lat, lon) index, it does not scan the table."""
    et = city.entity_tables("city", "incident")
    rnd = random.Random(11)
    now = clock.now()
    with city.engine.begin() as c:
        rows = [{"number": f"INC-{i:06d}", "status": "open", "title": f"p{i}", "created_at": now, "updated_at": now,
                 "row_version": 1, "meta_version": 1, "is_mass": False,
                 "location__lat": EKB.lat + rnd.uniform(-1, 1), "location__lon": EKB.lon + rnd.uniform(-2, 2)}
                for i in range(20_000)]
        c.execute(insert(et.main), rows)
    with city.engine.begin() as c:
        c.exec_driver_sql(f"ANALYZE {et.main.name}")
    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    from runtime.data.query import Filter, ListQuery
    with city.reader.connect() as c:
        event.listen(c, "before_cursor_execute", remember)
        page = ListQuery(city, et).run(c, [Filter("location", "near", f"{EKB.lat},{EKB.lon},500")], [],
                                       count="exact")
        event.remove(c, "before_cursor_execute", remember)
        listing = next(s for s in statements if "ORDER BY" in s[0])  # the page, not its count
        explain = "EXPLAIN QUERY PLAN " if c.dialect.name == "sqlite" else "EXPLAIN "
        plan = "\n".join(" ".join(map(str, r)) for r in c.exec_driver_sql(explain + listing[0], listing[1]).all())
    index = "ix_city__incident__location__lat_location__lon"
    assert index in plan, plan
    assert page.count == sum(1 for r in rows if distance(Point(r["location__lat"], r["location__lon"]), EKB) <= 500)


# ---------------------------------------------------------------------- aggregation
def test_reports_near_each_other_within_an_hour_make_a_mass_incident(city):
    start = clock.now()
    try:
        first = add(city, "Нет света", offset(EKB, 0, 0), reporter="a")
        add(city, "Нет света у соседей", offset(EKB, 2000, 0), reporter="b")  # 2 km away: not counted
        second = add(city, "Тоже нет света", offset(EKB, 200, 150), reporter="b")
        assert city.records.get("city", "incident", first["id"])["mass"] is None  # two voices are not three
        clock.freeze(start + dt.timedelta(minutes=40))
        third = add(city, "И здесь", offset(EKB, -200, 100), reporter="c")  # within 500 m of both
        parents = city.records.find("city", "incident", {"is_mass": True})
        assert len(parents) == 1
        parent = parents[0]
        assert parent["title"] == "Массовое отключение" and parent["location"] == third["location"]
        members = city.records.find("city", "incident", {"mass": parent["id"]})
        assert sorted(m["id"] for m in members) == sorted([first["id"], second["id"], third["id"]])
        later = add(city, "Опять", offset(EKB, -100, -350), reporter="d")  # near the parent: absorbed at once
        assert city.records.get("city", "incident", later["id"])["mass"] == parent["id"]
        lonely = add(city, "Далеко отсюда", offset(EKB, 0, 3000), reporter="e")
        assert city.records.get("city", "incident", lonely["id"])["mass"] is None
    finally:
        clock.thaw()


# ---------------------------------------------------------------------- storage migrations
def test_publishing_adds_renames_and_retires_a_point_keeping_the_data(loom):
    import copy
    doc = copy.deepcopy(APP)
    incident = doc["entities"]["incident"]
    del incident["fields"]["location"]
    incident.pop("aggregations")
    incident["views"] = [incident["views"][0]]
    incident["views"][0]["columns"] = ["number", "title"]
    loom.store.publish(doc, author="tester")
    old = loom.records.create("city", "incident", {"title": "До точек"})
    loom.store.publish(APP, author="tester")  # adds the field: two columns and their index
    assert loom.records.get("city", "incident", old["id"])["location"] is None
    made = add(loom, "С точкой", EKB)
    renamed = copy.deepcopy(APP)
    fields = renamed["entities"]["incident"]["fields"]
    fields["place"] = {**fields.pop("location"), "previous_names": ["location"]}
    renamed["entities"]["incident"]["aggregations"][0]["near"]["field"] = "place"
    renamed["entities"]["incident"]["views"] = [{"name": "all", "columns": ["number", "title", "place"]}]
    loom.store.publish(renamed, author="tester")
    assert loom.records.get("city", "incident", made["id"])["place"] == EKB.json()
    found = loom.records.find("city", "incident", {"place__near": f"{EKB.lat},{EKB.lon},10"})
    assert [r["id"] for r in found] == [made["id"]]


# ---------------------------------------------------------------------- validation
@pytest.fixture
def geo_dir(tmp_path) -> Path:
    folder = tmp_path / "service_desk"
    shutil.copytree(Path(__file__).resolve().parents[2] / "apps_config" / "service_desk", folder)
    entity = folder / "entities" / "organization.yaml"
    text_ = entity.read_text(encoding="utf-8")
    text_ = text_.replace("fields:\n", "fields:\n  office:\n    type: geo\n    title: {ru: Офис, en: Office}\n", 1)
    entity.write_text(text_, encoding="utf-8")
    load_app(folder)  # a geo field as such is fine
    return folder


def problems_after(folder: Path, rel: str, old: str, new: str):
    path = folder / rel
    content = path.read_text(encoding="utf-8")
    assert old in content
    path.write_text(content.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(MetadataError) as info:
        load_app(folder)
    return info.value.problems


@pytest.mark.parametrize("old, new, path, says", [
    ("    type: geo\n", "    type: geo\n    unique: true\n", "fields.office.unique", "takes no 'unique'"),
    ("views:\n  - name: all\n", "views:\n  - name: all\n    filters: [{field: office, op: near, value: '56.8,60.6'}]\n",
     "views[0].filters[0].value", "lat,lon,radius_m"),
    ("views:\n  - name: all\n", "views:\n  - name: all\n    filters: [{field: inn, op: near, value: '56.8,60.6,100'}]\n",
     "views[0].filters[0].op", "needs a geo field"),
    ("views:\n  - name: all\n", "views:\n  - name: all\n    filters: [{field: office, op: eq, value: 1}]\n",
     "views[0].filters[0].op", "filtered with near"),
    ("sort: [short_name]", "sort: [office]", "views[0].sort[0]", "cannot be sorted"),
])
def test_geo_mistakes_are_reported_with_file_and_line(geo_dir, old, new, path, says):
    found = problems_after(geo_dir, "entities/organization.yaml", old, new)
    assert len(found) == 1, "\n".join(map(str, found))
    problem = found[0]
    assert problem.file == "entities/organization.yaml" and problem.line is not None
    assert problem.path == path and says in problem.message, str(problem)


def test_an_aggregation_near_needs_a_geo_field_and_a_distance(geo_dir):
    rule = ("aggregations:\n  - name: crowd\n    window: 1 hour\n    near: {field: inn, within: 500 m}\n"
            "    min_count: 2\n    link_field: parent\n    parent: {}\n")
    found = problems_after(geo_dir, "entities/organization.yaml", "views:\n",
                           rule + "views:\n")
    messages = {p.path: p.message for p in found}
    assert "a geo field is needed" in messages["aggregations[0].near.field"]
    assert "parent" in messages["aggregations[0].link_field"]
    assert all(p.file == "entities/organization.yaml" and p.line for p in found)
    assert parse_near("56.8,60.6,1.5km") == (Point(56.8, 60.6), 1500.0)


# ---------------------------------------------------------------------- the UI
def test_the_form_takes_a_point_and_the_record_page_links_a_map(city, tmp_path):
    city.accounts.create_user("disp", PASSWORD, roles=["city:dispatcher"])
    app = create_app(Settings(tmp_path, city.database_url), city)
    browser = Browser(app.test_client())
    assert browser.login("disp", PASSWORD).status_code == 302
    form = browser.get("/ui/city/incident/new").get_data(as_text=True)
    assert 'name="location-lat"' in form and 'name="location-lon"' in form
    r = browser.post("/ui/city/incident/new", {"title": "Упала опора", "location-lat": "56,8380",
                                               "location-lon": "60.5975"})
    assert r.status_code == 302, r.get_data(as_text=True)
    record_url = r.headers["Location"]
    page = browser.get(record_url).get_data(as_text=True)
    link = re.search(r'<a class="map-link" href="([^"]+)"[^>]*>([^<]+)</a>', page)
    assert link and link.group(1).replace("&amp;", "&") == \
        "https://www.openstreetmap.org/?mlat=56.838000&mlon=60.597500#map=17/56.838000/60.597500"
    assert link.group(2) == "56.838000, 60.597500"
    bad = browser.post("/ui/city/incident/new", {"title": "Плохо", "location-lat": "95", "location-lon": "60"})
    assert bad.status_code == 422 and "latitude must be between" in bad.get_data(as_text=True)
    listing = browser.get("/ui/city/incident").get_data(as_text=True)
    assert "56.838000, 60.597500" in listing
    exported = browser.get("/ui/city/incident/export.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    column = rows[0].index("Место")
    assert rows[1][column] == "56.838,60.5975"


def test_csv_import_reads_lat_lon(city):
    result = import_csv(city, "city", "incident", io.StringIO("title,location\nОпора,\"56.8,60.6\"\nБез места,\n"))
    assert result.rows == 2
    found = {r["title"]: r["location"] for r in city.records.find("city", "incident", {}, actor=SYSTEM)}
    assert found == {"Опора": {"lat": 56.8, "lon": 60.6}, "Без места": None}
