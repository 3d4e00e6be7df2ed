"""The API reference page, /api/docs: Swagger UI from an installed package, on the site's own page and policy."""

import re
from importlib.metadata import version

from tests.api.conftest import assert_problem


def test_the_reference_is_a_page_of_the_site_that_loads_only_its_own_files(client):
    response = client.get("/api/docs")

    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'class="navbar-brand"' in page and "<title>API reference · Microblog</title>" in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert [source for source in sources if "//" in source] == []  # nothing from another host
    assert "<script>" not in page  # no inline script: the Content-Security-Policy would refuse it
    for source in sources:
        if source.endswith((".js", ".css")) or ".js?" in source or ".css?" in source:
            with client.get(source) as asset:
                assert asset.status_code == 200, source


def test_the_page_names_the_document_swagger_ui_reads(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert 'data-document="/api/openapi.json"' in page


def test_swagger_ui_comes_from_the_installed_package_kept_a_year_by_its_version(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert f'src="/api/docs/swagger-ui-bundle.js?v={version("flask-swagger-ui")}"' in page
    with client.get("/api/docs/swagger-ui-bundle.js") as bundle:
        assert bundle.status_code == 200 and b"SwaggerUIBundle" in bundle.data
        assert bundle.mimetype in {"text/javascript", "application/javascript"}
        assert bundle.cache_control.max_age == 365 * 24 * 3600


def test_only_the_pages_own_files_are_served(client):
    for name in ("index.css", "oauth2-redirect.html", "LICENSE", "..%2Freference.py", "reference.py"):
        assert_problem(client.get(f"/api/docs/{name}"), 404)


def test_every_problem_page_links_to_the_reference(client):
    for slug in ("unauthorized", "validation-failed", "http-418"):
        assert 'href="/api/docs"' in client.get(f"/api/problems/{slug}").get_data(as_text=True), slug
