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


def control(condition: str = "executor == $user or co_executors.executor == $user or commissions.chair == $user"
            ) -> dict:
    """Assignment control: the executor, every co-executor (rows of a table) and the chair of any
    commission the assignment is on (a multi-link) see it."""
    return {
        "app": {"name": "ctl", "title": "Control", "roles": [{"name": "clerk"}, {"name": "staff"}]},
        "entities": {
            "commission": {"title": "Commission", "title_field": "name",
                           "fields": {"name": {"type": "string"}, "chair": {"type": "user"}},
                           "permissions": {"read": ["clerk"], "create": ["clerk"], "update": ["clerk"],
                                           "delete": ["clerk"]}},
            "assignment": {
                "title": "Assignment", "title_field": "title",
                "fields": {"title": {"type": "string"}, "executor": {"type": "user"},
                           "co_executors": {"type": "table", "fields": {"executor": {"type": "user"},
                                                                        "task": {"type": "string"}}},
                           "commissions": {"type": "multilink", "entity": "commission"}},
                "permissions": {"read": ["clerk", "staff"], "create": ["clerk"], "update": ["clerk"],
                                "rows": [{"roles": ["staff"], "condition": condition}]}},
        },
    }


@pytest.fixture
def ctl(loom):
    loom.store.publish(control(), author="tester")
    accounts, create = loom.accounts, loom.records.create
    u = [accounts.create_user(n, None, roles=["ctl:staff"]) for n in ("u1", "u2", "u3")]
    board = create("ctl", "commission", {"name": "board", "chair": u[2]})["id"]
    rows = lambda *who: [{"executor": w, "task": "part"} for w in who]  # noqa: E731
    a = [create("ctl", "assignment", values)["id"] for values in (
        {"title": "a0", "executor": u[0]},
        {"title": "a1", "co_executors": rows(u[1])},
        {"title": "a2", "co_executors": rows(u[0], u[2])},
        {"title": "a3", "commissions": [board]},
        {"title": "a4"})]
    return loom, [accounts.actor_for_id(x) for x in u], a, board


def seen(loom, actor) -> list[int]:
    et = loom.entity_tables("ctl", "assignment")
    with loom.reader.connect() as c:
        return [r["id"] for r in ListQuery(loom, et).run(c, [], ["id"], limit=100, actor=actor).items]


def test_co_executors_in_a_table_and_a_commission_chair_through_a_multilink_see_the_assignment(ctl):
    loom, (u1, u2, u3), a, board = ctl
    assert seen(loom, u1) == [a[0], a[2]]
    assert seen(loom, u2) == [a[1]]
    assert seen(loom, u3) == [a[2], a[3]]
    assert loom.records.get("ctl", "assignment", a[2], u3)["title"] == "a2"
    with pytest.raises(NotFound):
        loom.records.get("ctl", "assignment", a[1], u3)
    # u3 leaves the co-executors of a2; the commission is deleted: the rule follows the data
    current = loom.records.get("ctl", "assignment", a[2])
    loom.records.update("ctl", "assignment", a[2], {"co_executors": [{"executor": u1.id, "task": "part"}]},
                        current["row_version"])
    loom.records.delete("ctl", "commission", board)
    assert seen(loom, u3) == []
    assert seen(loom, u1) == [a[0], a[2]]


def test_no_row_of_the_table_is_mine(loom):
    loom.store.publish(control("not co_executors.executor == $user"), author="tester")
    u1, u2 = (loom.accounts.create_user(n, None, roles=["ctl:staff"]) for n in ("u1", "u2"))
    mine = loom.records.create("ctl", "assignment", {"title": "m", "co_executors": [{"executor": u1}]})["id"]
    other = loom.records.create("ctl", "assignment", {"title": "o", "co_executors": [{"executor": u2}]})["id"]
    empty = loom.records.create("ctl", "assignment", {"title": "e"})["id"]
    assert seen(loom, loom.accounts.actor_for_id(u1)) == [other, empty]


@pytest.mark.parametrize("condition, message", [
    ("co_executors == $user", "'co_executors' in .* holds several rows or records; compare one of their fields"),
    ("co_executors.exector == $user", "unknown field of assignment.co_executors 'exector'; did you mean 'executor'"),
    ("co_executors.id == 1", "unknown field of assignment.co_executors 'id'"),
    ("commissions.chiar == $user", "unknown field of commission 'chiar'; did you mean 'chair'"),
    ("title.x == 1", "'title' of assignment is a string field, so 'title.x' cannot follow it"),
])
def test_publishing_checks_paths_through_tables_and_multilinks(sqlite_loom, condition, message):
    with pytest.raises(MetadataError, match=message) as err:
        sqlite_loom.store.publish(control(condition), author="tester")
    assert "permissions.rows[0].condition" in str(err.value)
