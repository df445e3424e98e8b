from .conftest import APP


def test_a_contact_signs_in_and_sees_the_list(client, world):
    r = client.login(world["users"][0])
    assert r.status_code == 302, r.get_data(as_text=True)
    r = client.get(f"/portal/{APP}/p/requests")
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html
    assert "организации 1" in html and "организации 2" not in html
    r = client.get(f"/portal/{APP}/p/request/{world['requests'][0]['id']}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html
    print(html)
