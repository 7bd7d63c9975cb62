"""The API docs and the admin load every asset from this deployment, with ``DEBUG`` off.

The check is the production one: ``collectstatic`` with the production storage
(hashed names from the manifest, gzipped copies) into a temporary
``STATIC_ROOT``, then the real middleware stack (whitenoise serving that
directory, no finders, no autorefresh) answers the pages and every script,
stylesheet, icon and image they reference. Nothing may come from another
origin: a page that needs a CDN is blank offline and leaks its visitors.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from contexts.users.tests.factories import StaffUserFactory

PAGES = ["/api/docs/", "/api/redoc/", "/admin/login/", "/admin/"]
HASHED = re.compile(r"\.[0-9a-f]{12}\.(js|css|png|svg)$")


class _Assets(HTMLParser):
    """Collects the URLs a browser would fetch to render a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in {"script", "img"} and attributes.get("src"):
            self.urls.append((tag, attributes["src"]))
        elif tag == "link" and attributes.get("href"):
            self.urls.append((f"link rel={attributes.get('rel')}", attributes["href"]))


def assets_of(html: str) -> list[tuple[str, str]]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory):
    """``collectstatic`` with the production storage into a fresh ``STATIC_ROOT``."""
    root = tmp_path_factory.mktemp("static_root")
    production = override_settings(
        STATIC_ROOT=root,
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
        },
    )
    with production:
        call_command("collectstatic", "--noinput", verbosity=0)
        yield root


@pytest.fixture
def browser(collected_static, db):
    """A client through the whole middleware stack (whitenoise loaded after the collect)."""
    assert settings.DEBUG is False
    client = Client()
    client.force_login(StaffUserFactory())
    return client


def fetch_page(client: Client, path: str) -> str:
    if path == "/admin/login/":
        client = Client()  # the anonymous sign-in page, not a redirect for staff
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_every_asset_of_the_page_is_same_origin_and_served(browser, page):
    assets = assets_of(fetch_page(browser, page))

    assert any(kind == "script" for kind, _ in assets), assets
    if page != "/api/redoc/":  # Redoc's bundle carries its styles
        assert any(kind == "link rel=stylesheet" for kind, _ in assets), assets
    for kind, url in assets:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), f"{page}: {kind} from {url}"
        assert parts.path.startswith("/static/"), f"{page}: {kind} {url}"
        # Hashed by the manifest, so cached forever by browsers and proxies.
        assert HASHED.search(parts.path), f"{page}: {kind} {url} has no content hash"

        response = browser.get(parts.path, HTTP_ACCEPT_ENCODING="gzip")
        assert response.status_code == 200, f"{page}: {url} answered {response.status_code}"
        body = b"".join(response.streaming_content)
        assert body, f"{page}: {url} is empty"
        assert "immutable" in response["Cache-Control"], (url, response["Cache-Control"])
        if parts.path.endswith(".js"):
            assert "javascript" in response["Content-Type"]
            assert response["Content-Encoding"] == "gzip"
        if parts.path.endswith(".css"):
            assert response["Content-Type"].startswith("text/css")


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_name_no_other_origin_at_all(browser, page):
    """Not even in inline code: no CDN, no web fonts, no online schema validator."""
    html = fetch_page(browser, page)

    assert re.findall(r"(?:https?:)?//[\w-]+(?:\.[\w-]+)+", html) == []
    if page == "/api/docs/":
        assert '"validatorUrl": null' in html


@pytest.mark.django_db
def test_the_docs_pages_load_the_bundled_swagger_ui_and_redoc(browser):
    docs, redoc = fetch_page(browser, "/api/docs/"), fetch_page(browser, "/api/redoc/")

    assert re.search(
        r'src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle\.', docs
    )
    assert re.search(
        r'src="/static/drf_spectacular_sidecar/redoc/bundles/redoc\.standalone\.', redoc
    )
    assert 'Redoc.init("/api/schema/"' in redoc or 'spec-url="/api/schema/"' in redoc
