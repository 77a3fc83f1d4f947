"""Webhooks signed by the official `twilio` library (pinned) are accepted;
any change to a signed request is refused with 403 and changes nothing."""
import requests
from servicestack import JsonServiceClient
from twilio.request_validator import RequestValidator

# The demo account's Twilio credentials (evo-voice demo seeds them).
ACCOUNT_SID = "AC00000000000000000000000000000001"
AUTH_TOKEN = "demo-twilio-auth-token"


def call_params(call_sid):
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid,
        "From": "+15550001111",
        "To": "+15550100",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }


def active_call_sids(base_url, dtos):
    client = JsonServiceClient(base_url)
    auth = client.post(dtos.Authenticate(provider="credentials", user_name="alice@acme.example", password="demo"))
    client.bearer_token = auth.bearer_token
    return {s.call_sid for s in client.get(dtos.GetActiveSessions()).sessions}


def post(url, params, signature):
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    return requests.post(url, data=params, headers=headers, timeout=10)


def test_a_request_signed_by_the_twilio_library_is_accepted(base_url, dtos):
    url = f"{base_url}/twilio/voice"
    params = call_params("CA0000000000000000000000000000py01")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    response = post(url, params, signature)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Dial" in response.text
    assert "CA0000000000000000000000000000py01" in active_call_sids(base_url, dtos)


def test_any_change_to_a_signed_request_is_refused_and_changes_nothing(base_url, dtos):
    url = f"{base_url}/twilio/voice"
    validator = RequestValidator(AUTH_TOKEN)
    cases = {}
    params = call_params("CA0000000000000000000000000000py02")
    signature = validator.compute_signature(url, params)
    cases["changed parameter"] = (url, {**params, "From": "+15559999999"}, signature)
    params = call_params("CA0000000000000000000000000000py03")
    signature = validator.compute_signature(url, params)
    cases["added parameter"] = (url, {**params, "Extra": "1"}, signature)
    params = call_params("CA0000000000000000000000000000py04")
    cases["wrong token"] = (url, params, RequestValidator("not-the-token").compute_signature(url, params))
    params = call_params("CA0000000000000000000000000000py05")
    cases["different URL"] = (url + "?x=1", params, validator.compute_signature(url, params))
    params = call_params("CA0000000000000000000000000000py06")
    cases["missing signature"] = (url, params, None)
    for name, (target, body, signature) in cases.items():
        response = post(target, body, signature)
        assert response.status_code == 403, name
    active = active_call_sids(base_url, dtos)
    for n in range(2, 7):
        assert f"CA0000000000000000000000000000py0{n}" not in active
