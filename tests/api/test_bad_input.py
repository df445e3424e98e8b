"""Bad input answers 4xx with a problem document, never a 500; redirects stay on the site."""

import pytest

BAD_QUERIES = [
    "limit=abc",
    "limit=1.5",
    "limit=",
    "limit=-3",
    "organization=",
    "due_at__lt=",
    "created_at__gt=",
    "organization=99999999999999999999999",
    "organization__in=1,abc",
    "id=99999999999999999999999",
]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_list_arguments_are_a_4xx_problem(admin, seeded, query):
    response = admin.get(f"/api/v1/service_desk/request?{query}")
    assert 400 <= response.status_code < 500, (query, response.status_code, response.data[:300])
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == response.status_code


def test_a_huge_limit_is_capped_not_refused(admin, seeded):
    assert admin.get("/api/v1/service_desk/request?limit=99999999999999999999999").status_code == 200


@pytest.mark.parametrize("url", [
    "/api/v1/service_desk/request/99999999999999999999999",
    "/api/v1/service_desk/request/18446744073709551616/history",
    "/api/v1/files/99999999999999999999999",
])
def test_ids_beyond_64_bits_are_not_found(admin, seeded, url):
    response = admin.get(url)
    assert response.status_code == 404, response.data[:300]


def test_a_link_id_beyond_64_bits_is_a_4xx(admin, seeded):
    response = admin.post("/api/v1/service_desk/request", {
        "subject": "x", "organization": 2**70, "module": seeded["module"]["id"]})
    assert 400 <= response.status_code < 500, response.data[:300]
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("target", [
    "/%09/evil.com", "/%0a/evil.com", "/%0d%0a/evil.com", "/%5c/evil.com", "//evil.com", "https://evil.com",
    "/\\evil.com", "/%20/evil.com", "%2f%2fevil.com",
])
def test_language_switch_redirects_only_within_the_site(app, target):
    response = app.test_client().get(f"/lang/en?next={target}")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "evil.com" not in location, location


def test_language_switch_keeps_a_local_next(app):
    response = app.test_client().get("/lang/en?next=/ui/service_desk/request?status=new")
    assert response.headers["Location"] == "/ui/service_desk/request?status=new"


@pytest.mark.parametrize("target", ["/%09/evil.com", "/%0a/evil.com", "//evil.com"])
def test_sign_in_redirects_only_within_the_site(app, service_desk, target):
    service_desk.accounts.create_user("ann", "s3cret-pass")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"username": "ann", "password": "s3cret-pass"}
    if token:
        data["csrf_token"] = token.group(1)
    response = client.post(f"/login?next={target}", data=data)
    assert response.status_code == 302, response.data[:300]
    assert "evil.com" not in response.headers["Location"]
