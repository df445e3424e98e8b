"""The record graph (docs/metadata.md, "Record graph") on SQLite and PostgreSQL: JSON through the
API and the UI, the inline SVG on the record page, and nothing of what the viewer may not read."""
from __future__ import annotations

from .conftest import APP


def graph(client, world, key, **args):
    answer = client.get(f"/api/v1/{APP}/ci/{world[key]}/graph", query_string=args)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    names = {n["id"]: n["title"] for n in body["nodes"]}
    edges = {(names[e["from"]], e["label"], names[e["to"]]) for e in body["edges"]}
    return body, set(names.values()), edges


def test_an_engineer_sees_two_steps_of_relations_with_their_labels(api, world):
    body, nodes, edges = graph(api("eng1"), world, "portal")
    assert nodes == {"Портал", "Сервер приложений", "База"}          # depth 2: Стойка is three steps away
    assert edges == {("Портал", "runs_on", "Сервер приложений"), ("Сервер приложений", "depends_on", "База")}
    assert {e["label_text"] for e in body["edges"]} == {"работает на", "зависит от"}
    depth = {n["title"]: n["depth"] for n in body["nodes"]}
    assert depth == {"Портал": 0, "Сервер приложений": 1, "База": 2}
    assert body["center"] == world["portal"]
    assert all(n["url"] == f"/ui/{APP}/ci/{n['id']}" for n in body["nodes"])
    _, nodes, _ = graph(api("eng1"), world, "portal", depth=3)
    assert "Стойка" in nodes
    _, nodes, _ = graph(api("eng1"), world, "server")               # edges are followed both ways
    assert nodes == {"Портал", "Сервер приложений", "База", "Стойка"}


def test_a_record_the_viewer_may_not_read_is_not_a_node_and_is_not_walked_through(api, world):
    _, nodes, edges = graph(api("clerk"), world, "portal", depth=4)
    assert nodes == {"Портал", "Сервер приложений"}                 # База is confidential; Стойка is behind it
    assert edges == {("Портал", "runs_on", "Сервер приложений")}
    assert api("clerk").get(f"/api/v1/{APP}/ci/{world['db']}/graph").status_code == 404
    _, nodes, _ = graph(api("clerk"), world, "rack")
    assert nodes == {"Стойка"}


def test_a_viewer_without_the_relations_sees_the_record_alone(api, world, lab):
    lab.accounts.create_user("viewer", "x-pass-123", roles=[f"{APP}:clerk"])
    _, nodes, _ = graph(api("viewer"), world, "server")
    assert nodes == {"Сервер приложений", "Портал"}
    assert api("eng1").get(f"/api/v1/{APP}/ticket/1/graph").status_code == 404   # tickets have no graph


def test_the_record_page_draws_the_graph_as_inline_svg_with_links(signed_in, world):
    page = signed_in("eng1").get(f"/ui/{APP}/ci/{world['server']}").get_data(as_text=True)
    svg = page[page.index('<section class="section graph"'):page.index("</section>", page.index('id="graph"'))]
    assert "<svg" in svg and "<script" not in svg
    for key in ("portal", "server", "db", "rack"):
        assert f'href="/ui/{APP}/ci/{world[key]}"' in svg
    assert "зависит от" in svg and "часть" in svg
    hidden = signed_in("clerk").get(f"/ui/{APP}/ci/{world['server']}").get_data(as_text=True)
    assert f'/ui/{APP}/ci/{world["db"]}"' not in hidden and "База" not in hidden


def test_the_ui_answers_json_and_svg(signed_in, world):
    eng = signed_in("eng1")
    body = eng.get(f"/ui/{APP}/ci/{world['portal']}/graph").get_json()
    assert {n["title"] for n in body["nodes"]} == {"Портал", "Сервер приложений", "База"}
    image = eng.get(f"/ui/{APP}/ci/{world['portal']}/graph?format=svg")
    assert image.mimetype == "image/svg+xml" and image.get_data(as_text=True).startswith("<svg")
    assert signed_in("clerk").get(f"/ui/{APP}/ci/{world['db']}/graph").status_code == 404
