"""Calls a running vodsign through a Python client generated from its own /openapi.json.

Run by scripts/openapi-client.sh, which generates the client package (openapi-python-client)
and puts it on PYTHONPATH:

    python3 scripts/openapi_client_check.py BASE_URL PACKAGE_NAME

The instance must run the development configuration (demo key, policy "default" allowing
classId 0 and 1). Every call goes through the generated code: its request building (the
body-less POST, the query fields of the GET) and its parsing of each documented answer.
Exits non-zero, with the reason, on the first call that does not behave as documented.
"""

import base64
import importlib
import sys
import time
import urllib.parse

DEMO_KEY = "vsk_demo_public-development-key-not-a-secret"


def check(condition, message):
    if not condition:
        raise SystemExit(f"openapi client check failed: {message}")


def signed_fields(signature):
    """The signed parameters of a VOD signature: Base64 of a 20-byte HMAC-SHA1, then the query."""
    raw = base64.b64decode(signature, validate=True)
    check(len(raw) > 20, f"signature too short to hold its parameters: {signature!r}")
    return dict(urllib.parse.parse_qsl(raw[20:].decode("utf-8")))


def main(base_url, package):
    client_mod = importlib.import_module(f"{package}.client")
    models = importlib.import_module(f"{package}.models")
    by_body = importlib.import_module(f"{package}.api.signature.issue_signature_by_body")
    by_query = importlib.import_module(f"{package}.api.signature.issue_signature_by_query")

    client = client_mod.AuthenticatedClient(
        base_url=base_url, token=DEMO_KEY, raise_on_unexpected_status=True, timeout=10.0
    )

    def issued(response, what, validity):
        check(response.status_code == 200, f"{what}: HTTP {response.status_code}: {response.content!r}")
        body = response.parsed
        check(isinstance(body, models.SuccessIssued), f"{what}: parsed as {type(body).__name__}")
        check(body.code == 0 and body.message == "ok", f"{what}: envelope {body.code} {body.message!r}")
        now = time.time()
        check(
            abs(body.data.expire_time - (now + validity)) <= 30,
            f"{what}: expireTime {body.data.expire_time} is not about now + {validity}",
        )
        fields = signed_fields(body.data.signature)
        check(fields.get("expireTime") == str(body.data.expire_time), f"{what}: signed {fields}")
        check(response.headers.get("x-request-id"), f"{what}: no x-request-id header")
        return fields

    # The body-less POST: the generated code must send no body at all (policy defaults).
    response = by_body.sync_detailed(client=client)
    fields = issued(response, "POST without a body", 1800)
    check("classId" not in fields, f"POST without a body signed {fields}")

    # A POST with a body.
    response = by_body.sync_detailed(client=client, body=models.SignatureRequest(validity_seconds=600))
    issued(response, "POST with a body", 600)

    # The GET: the fields travel as query parameters.
    response = by_query.sync_detailed(
        client=client, fields=models.SignatureRequest(class_id=1, validity_seconds=900)
    )
    fields = issued(response, "GET with a query", 900)
    check(fields.get("classId") == "1", f"GET with classId=1 signed {fields}")

    # A value the policy does not allow: a documented 403, parsed as the error envelope.
    response = by_query.sync_detailed(client=client, fields=models.SignatureRequest(class_id=5))
    check(response.status_code == 403, f"classId 5: HTTP {response.status_code}")
    check(isinstance(response.parsed, models.ErrorEnvelope), f"classId 5 parsed as {response.parsed!r}")
    check(response.parsed.code == models.ErrorEnvelopeCode.VALUE_40302, f"classId 5: {response.parsed}")
    check("classId" in response.parsed.message, f"40302 names no field: {response.parsed.message}")

    # A wrong credential: 401 with code 40102, and the request id of the header.
    stranger = client_mod.AuthenticatedClient(
        base_url=base_url,
        token="vsk_demo_not-the-right-secret",
        raise_on_unexpected_status=True,
        timeout=10.0,
    )
    response = by_body.sync_detailed(client=stranger)
    check(response.status_code == 401, f"wrong key: HTTP {response.status_code}")
    error = response.parsed
    check(isinstance(error, models.ErrorEnvelope), f"wrong key parsed as {error!r}")
    check(error.code == models.ErrorEnvelopeCode.VALUE_40102, f"wrong key: code {error.code}")
    check(error.request_id == response.headers.get("x-request-id"), "requestId differs from x-request-id")
    check(
        response.headers.get("www-authenticate", "").startswith("Bearer"),
        f"401 without WWW-Authenticate: {dict(response.headers)}",
    )
    print("openapi client check: body-less POST, POST, GET with a query, 403 and 401 parsed as documented")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: openapi_client_check.py BASE_URL PACKAGE_NAME")
    main(sys.argv[1], sys.argv[2])
