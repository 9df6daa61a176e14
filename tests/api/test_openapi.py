"""/openapi.json says what the server does: errors as they are answered, nulls accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from tests.conftest import Harness, auth, settings_for_tests
from vidgate.app import create_app

SCHEMA: dict[str, Any] = create_app(settings_for_tests(Path("unused"))).openapi()
BODY = SCHEMA["components"]["schemas"]["GenerationRequest"]
OPTIONAL_FIELDS = sorted(set(BODY["properties"]) - set(BODY["required"]))
OPERATIONS = [
    (method, path, operation)
    for path, operations in SCHEMA["paths"].items()
    for method, operation in operations.items()
]


def test_no_operation_advertises_fastapis_validation_error() -> None:
    assert "HTTPValidationError" not in str(SCHEMA)
    assert "ValidationError" not in SCHEMA["components"]["schemas"]
    with_422 = [(method, path) for method, path, operation in OPERATIONS if "422" in operation["responses"]]
    assert with_422 == [("post", "/api/v1/videos/generations")]  # the Idempotency-Key reuse
    reuse = SCHEMA["paths"]["/api/v1/videos/generations"]["post"]["responses"]["422"]
    assert reuse["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorBody"


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=lambda v: str(v)[:40])
def test_operations_that_validate_input_declare_a_400(method: str, path: str, operation: dict) -> None:
    validated = "requestBody" in operation or any(
        parameter["in"] in ("query", "header") for parameter in operation.get("parameters", [])
    )
    if validated:
        bad = operation["responses"]["400"]
        assert bad["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/ErrorBody"


@pytest.mark.parametrize("field", OPTIONAL_FIELDS)
def test_every_optional_field_is_documented_as_nullable(field: str) -> None:
    validator = jsonschema_rs.validator_for(BODY)
    assert validator.is_valid({"prompt": "waves", field: None})
    assert not validator.is_valid({"prompt": None})


@pytest.mark.parametrize("field", OPTIONAL_FIELDS)
async def test_an_explicit_null_is_accepted_as_the_default(harness: Harness, field: str) -> None:
    key = await harness.key()
    response = await harness.client.post(
        "/api/v1/videos/generations?async=true",
        json={"prompt": "waves", "duration_seconds": 1, field: None},
        headers=auth(key),
    )
    assert response.status_code == 200, response.text


async def test_the_served_document_is_the_one_tested(harness: Harness) -> None:
    assert (await harness.client.get("/openapi.json")).json() == SCHEMA
