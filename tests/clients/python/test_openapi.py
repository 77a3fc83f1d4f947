"""/openapi.json is a valid OpenAPI document, and schemathesis run against
the live server finds no server error and no response that violates it."""
import json
import subprocess
import sys
import urllib.request

from openapi_spec_validator import validate


def test_the_openapi_document_is_valid(base_url):
    with urllib.request.urlopen(f"{base_url}/openapi.json") as response:
        document = json.load(response)
    validate(document)
    assert set(document["components"]["securitySchemes"]) == {"bearerAuth", "apiKey", "basicAuth"}
    assert "/sessions/active" in document["paths"]
    session = document["components"]["schemas"]["SessionInfo"]["properties"]
    assert session["callState"]["allOf"][0]["$ref"] == "#/components/schemas/SessionCallState"
    assert document["components"]["schemas"]["SessionCallState"]["enum"] == [
        "Disconnected", "Ringing", "Connected", "Hold", "Passive"]


def test_schemathesis_finds_no_server_error_and_no_schema_violation(base_url):
    request = urllib.request.Request(
        f"{base_url}/auth/credentials",
        data=json.dumps({"userName": "alice@acme.example", "password": "demo"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        token = json.load(response)["bearerToken"]
    checks = ",".join([
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ])
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", checks,
         "--max-examples", "40", "--seed", "1", "--no-color"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
