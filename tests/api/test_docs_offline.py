"""API docs work air-gapped: every docs page loads its assets from this server, none from a CDN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from civicstack.api.app import create_app
from civicstack.platform import Platform
from civicstack.settings import Settings

#: Anything a page would fetch or link: src/href attributes and the URLs its script is given.
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir: Path = tmp_path_factory.mktemp("docs")
    platform = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(data_dir)}))
    platform.migrate()
    with TestClient(create_app(platform)) as test_client:
        yield test_client
    platform.close()


def _pages(client: TestClient) -> list[str]:
    mounts = [service["mount"] for service in client.get("/services").json()]
    return ["/", "/docs", "/redoc"] + [f"{m}/{page}" for m in mounts for page in ("docs", "redoc")]


def test_every_docs_page_refers_to_this_server_only(client: TestClient) -> None:
    """No page names another host; every asset it names is served here (200)."""
    pages = _pages(client)
    assert len(pages) >= 11  # the catalogue, the root docs, and docs + redoc for each service
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        references = [a or b for a, b in REFERENCE.findall(response.text)]
        assert references, page
        for url in references:
            assert not re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url, re.IGNORECASE), (page, url)
            target = url if url.startswith("/") else page.rsplit("/", 1)[0] + "/" + url
            assert client.get(target).status_code == 200, (page, url)


def test_swagger_ui_loads_the_service_document(client: TestClient) -> None:
    """A mounted service's Swagger UI points at that service's own OpenAPI document."""
    page = client.get("/registers/docs").text
    assert "url: '/registers/openapi.json'" in page or '"/registers/openapi.json"' in page
    assert "fonts.googleapis" not in client.get("/registers/redoc").text
