"""The service endpoints of docs/api.md: health, readiness, schema and docs."""

import pytest


def test_health_answers_while_the_process_serves(api_client):
    response = api_client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


@pytest.mark.django_db
def test_ready_checks_database_and_broker(api_client):
    response = api_client.get("/health/ready")

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_schema_is_an_openapi_3_document(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


@pytest.mark.django_db
def test_docs_serve_swagger_ui(api_client):
    response = api_client.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.django_db
def test_redoc_serves_the_same_schema(api_client):
    response = api_client.get("/api/redoc/")

    assert response.status_code == 200
    assert b"redoc" in response.content.lower()
    assert b"/api/schema/" in response.content


def test_unknown_path_is_a_json_404(api_client):
    response = api_client.get("/no/such/path")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_request_id_is_echoed_back(api_client):
    response = api_client.get("/health", HTTP_X_REQUEST_ID="abc-123")

    assert response["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/products"),
        ("delete", "/api/orders"),
        ("post", "/api/users/me"),
        ("get", "/api/auth/token"),
        ("post", "/health"),
    ],
)
def test_an_unsupported_method_is_405_even_for_anonymous_callers(api_client, method, path):
    response = getattr(api_client, method)(path)

    assert response.status_code == 405
    assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}
    assert response["Allow"]
