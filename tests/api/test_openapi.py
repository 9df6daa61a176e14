"""/openapi.json says what the server does: errors as they are answered, nulls accepted."""

from __future__ import annotations

import re
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
        shape = "OpenAIErrorBody" if path.startswith("/v1/") else "ErrorBody"  # OpenAI's API, OpenAI's errors
        assert bad["content"]["application/json"]["schema"]["$ref"] == f"#/components/schemas/{shape}"


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


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return SCHEMA["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=lambda v: str(v)[:40])
def test_every_operation_has_a_readable_id_a_typed_answer_and_examples(
    method: str, path: str, operation: dict
) -> None:
    assert re.fullmatch(r"[a-z]+(_[a-z]+){0,2}", operation["operationId"]), operation["operationId"]
    for status, response in operation["responses"].items():
        content = response.get("content", {}).get("application/json")
        if content is None:  # a file, the metrics text
            assert status != "200" or response["content"], (status, path)
            continue
        for option in content["schema"].get("anyOf", [content["schema"]]):  # sync or async answers
            schema = _resolve(option)
            assert schema.get("properties") and schema.get("examples"), (status, path, schema)
    if "requestBody" in operation:
        content = operation["requestBody"]["content"]
        if "multipart/form-data" in content:  # a file upload: no example, every field described
            form = _resolve(content["multipart/form-data"]["schema"])
            assert form["properties"] and all(field.get("description") for field in form["properties"].values()), path
            return
        body = content["application/json"]
        assert body.get("examples") or _resolve(body["schema"]).get("examples"), path


def test_operation_ids_are_unique() -> None:
    ids = [operation["operationId"] for _method, _path, operation in OPERATIONS]
    assert len(ids) == len(set(ids))


@pytest.mark.slow
async def test_the_example_bodies_the_docs_show_succeed_as_sent(harness: Harness) -> None:
    """What /docs fills in under "Try it out" is a request that works, with a sandbox key."""
    key = await harness.key()
    operation = SCHEMA["paths"]["/api/v1/videos/generations"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert list(examples) == ["local", "seed"]  # the first is the one shown
    for example in examples.values():
        response = await harness.client.post("/api/v1/videos/generations", json=example["value"], headers=auth(key))
        assert response.status_code == 200, response.text
        assert jsonschema_rs.validator_for(SCHEMA_WITH(operation["responses"]["200"])).is_valid(response.json())


async def test_the_models_answer_is_what_the_document_says(harness: Harness) -> None:
    listed = (await harness.client.get("/api/v1/models")).json()
    assert jsonschema_rs.validator_for(SCHEMA_WITH({"$ref": "#/components/schemas/ModelList"})).is_valid(listed)
    one = (await harness.client.get("/api/v1/models/vidgate/local")).json()
    assert jsonschema_rs.validator_for(SCHEMA_WITH({"$ref": "#/components/schemas/ModelOut"})).is_valid(one)
    example = _resolve({"$ref": "#/components/schemas/ModelOut"})["examples"][0]  # the document drops nulls
    assert {name: value for name, value in one.items() if value is not None} == example  # the example is real


def SCHEMA_WITH(part: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - reads as a schema
    """`part` (a response, or a schema) as a standalone JSON Schema with the document's components."""
    schema = part.get("content", {}).get("application/json", {}).get("schema", part)
    return {**schema, "components": SCHEMA["components"]}
