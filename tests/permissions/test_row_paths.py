"""Row conditions through links: "a department head sees the applications for their department's
vacancies" (``vacancy.department.head == $user``) and "a dispatcher sees the outages of the grid
objects in their district" — one concept, two apps. The path is read as the system (a rule says
which rows, whoever may read the records it passes through); publishing checks each step."""
from __future__ import annotations

import pytest

from metamodel import MetadataError
from runtime.data.query import ListQuery
from runtime.errors import NotFound


def hiring(condition: str = "vacancy.department.head == $user") -> dict:
    return {
        "app": {"name": "hr", "title": "HR", "roles": [{"name": "hr"}, {"name": "head"}]},
        "entities": {
            "department": {"title": "Department", "title_field": "name",
                           "fields": {"name": {"type": "string"}, "head": {"type": "user"}},
                           "permissions": {"read": ["hr"], "create": ["hr"], "update": ["hr"]}},
            "vacancy": {"title": "Vacancy", "title_field": "title",
                        "fields": {"title": {"type": "string"}, "department": {"type": "link", "entity": "department"},
                                   "open": {"type": "boolean"}},
                        "permissions": {"read": ["hr"], "create": ["hr"], "update": ["hr"]}},
            "application": {
                "title": "Application", "title_field": "full_name",
                "fields": {"full_name": {"type": "string"}, "vacancy": {"type": "link", "entity": "vacancy"}},
                "permissions": {"read": ["hr", "head"], "create": ["hr"], "update": ["hr"],
                                "rows": [{"roles": ["head"], "condition": condition}]}},
            "district": {"title": "District", "title_field": "name",
                         "fields": {"name": {"type": "string"}, "dispatchers": {"type": "group"}},
                         "permissions": {"read": ["hr"]}},
            "grid_object": {"title": "Grid object", "title_field": "name",
                            "fields": {"name": {"type": "string"}, "district": {"type": "link", "entity": "district"}},
                            "permissions": {"read": ["hr"]}},
            "outage": {"title": "Outage", "title_field": "number",
                       "fields": {"object": {"type": "link", "entity": "grid_object"}, "planned": {"type": "boolean"}},
                       "permissions": {"read": ["head"],
                                       "rows": [{"roles": ["head"],
                                                 "condition": "object.district.dispatchers in user_groups "
                                                              "and not object.district.name == 'closed'"}]}},
        },
    }


@pytest.fixture
def hr(loom):
    loom.store.publish(hiring(), author="tester")
    accounts, create = loom.accounts, loom.records.create
    heads = [accounts.create_user(n, None, roles=["hr:head"]) for n in ("head1", "head2")]
    north, south = accounts.create_group("north"), accounts.create_group("south")
    accounts.add_to_group(heads[0], north)
    depts = [create("hr", "department", {"name": f"d{i}", "head": heads[i]})["id"] for i in range(2)]
    vacancies = [create("hr", "vacancy", {"title": f"v{i}", "department": depts[i % 2]})["id"] for i in range(4)]
    apps = [create("hr", "application", {"full_name": f"a{i}", "vacancy": vacancies[i % 4]})["id"] for i in range(8)]
    apps.append(create("hr", "application", {"full_name": "nobody's"})["id"])
    districts = [create("hr", "district", {"name": n, "dispatchers": g})["id"]
                 for n, g in (("n", north), ("s", south), ("closed", north))]
    objects = [create("hr", "grid_object", {"name": f"o{i}", "district": districts[i % 3]})["id"] for i in range(3)]
    outages = [create("hr", "outage", {"object": objects[i % 3]})["id"] for i in range(6)]
    return loom, [accounts.actor_for_id(h) for h in heads], vacancies, apps, outages, objects


def visible(loom, entity: str, actor) -> list[int]:
    et = loom.entity_tables("hr", entity)
    with loom.reader.connect() as c:
        return [r["id"] for r in ListQuery(loom, et).run(c, [], ["id"], limit=100, actor=actor).items]


def test_a_head_sees_the_applications_of_their_departments_vacancies(hr):
    loom, (head1, head2), vacancies, apps, _, _ = hr
    assert visible(loom, "application", head1) == [apps[0], apps[2], apps[4], apps[6]]  # vacancies 0 and 2: d0
    assert visible(loom, "application", head2) == [apps[1], apps[3], apps[5], apps[7]]
    assert loom.records.get("hr", "application", apps[0], head1)["full_name"] == "a0"
    with pytest.raises(NotFound):
        loom.records.get("hr", "application", apps[1], head1)
    # the department changes hands: the rule follows the data, nothing is copied
    moved = loom.records.get("hr", "vacancy", vacancies[1])
    loom.records.update("hr", "vacancy", vacancies[1], {"department": loom.records.get(
        "hr", "vacancy", vacancies[0])["department"]}, moved["row_version"])
    assert apps[1] in visible(loom, "application", head1) and apps[1] not in visible(loom, "application", head2)


def test_a_path_of_two_links_with_groups_and_not(hr):
    loom, (head1, head2), _, _, outages, _ = hr
    assert visible(loom, "outage", head1) == [outages[0], outages[3]]  # district n, not the closed one
    assert visible(loom, "outage", head2) == []


@pytest.mark.parametrize("condition, message", [
    ("vacancy.departmnt.head == $user", "'departmnt' of vacancy is no field"),
    ("vacancy.title.x == 1", "'title' of vacancy is a string field, so 'vacancy.title.x' cannot follow it"),
    ("vacancy.department.hed == $user", "unknown field of department 'hed'; did you mean 'head'?"),
    ("vacansy.department.head == $user", "unknown field 'vacansy'"),
])
def test_publishing_checks_each_step_of_a_path(sqlite_loom, condition, message):
    with pytest.raises(MetadataError, match=message) as err:
        sqlite_loom.store.publish(hiring(condition), author="tester")
    assert "permissions.rows[0].condition" in str(err.value)
