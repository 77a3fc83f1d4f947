"""The real `servicestack` PyPI client (pinned), unchanged, against a
running evo-voice: credentials, GetActiveSessions by its DTO, bearer
tokens, and the automatic refresh after the bearer token expires."""
import time

import pytest
from servicestack import JsonServiceClient, WebServiceException


ALICE = dict(user_name="alice@acme.example", password="demo")


def signed_in(base_url, dtos):
    client = JsonServiceClient(base_url)
    auth = client.post(dtos.Authenticate(provider="credentials", **ALICE))
    return client, auth


def test_authenticates_with_credentials_and_reads_active_sessions(base_url, dtos):
    client, auth = signed_in(base_url, dtos)
    assert auth.user_name == "alice@acme.example"
    assert auth.bearer_token
    assert auth.roles == ["User"]
    client.bearer_token = auth.bearer_token
    response = client.get(dtos.GetActiveSessions())
    assert isinstance(response, dtos.GetActiveSessionsResponse)
    assert isinstance(response.sessions, list)


def test_sessions_come_back_as_typed_dtos(base_url, dtos):
    client, auth = signed_in(base_url, dtos)
    client.bearer_token = auth.bearer_token
    sessions = []
    for _ in range(60):
        sessions = client.get(dtos.GetActiveSessions()).sessions
        if sessions:
            break
        time.sleep(0.25)
    assert sessions, "the demo produces sessions"
    session = sessions[0]
    assert session.id
    assert session.account_name == "Acme Telecom"
    assert session.ended is False
    assert session.members and session.members[0].identity


def test_without_credentials_the_client_raises_a_401(base_url, dtos):
    client = JsonServiceClient(base_url)
    with pytest.raises(WebServiceException) as error:
        client.get(dtos.GetActiveSessions())
    assert error.value.status_code == 401
    assert error.value.response_status.error_code == "Unauthorized"


def test_a_wrong_password_raises_with_the_servicestack_message(base_url, dtos):
    client = JsonServiceClient(base_url)
    with pytest.raises(WebServiceException) as error:
        client.post(dtos.Authenticate(provider="credentials", user_name=ALICE["user_name"], password="wrong"))
    assert error.value.status_code == 401
    assert error.value.response_status.message == "Invalid Username or Password"


def test_an_expired_bearer_token_is_refreshed_automatically(base_url, dtos):
    client, auth = signed_in(base_url, dtos)
    client.bearer_token = auth.bearer_token
    client.refresh_token = auth.refresh_token
    # A bearer-only client: with its session cookies (ss-id, ss-reftok) the
    # server accepts or renews the request itself and the client-side refresh
    # through GetAccessToken would not be exercised.
    client._session.cookies.clear()
    client.use_token_cookie = False
    time.sleep(3.1)  # the demo's bearer tokens live 2 s
    response = client.get(dtos.GetActiveSessions())
    assert isinstance(response.sessions, list)
    assert client.bearer_token != auth.bearer_token
