"""The admin token that lets `POST /v1/users` create users: empty means unset (never "any
empty bearer"), and a short one stops the gateway at start."""

import pytest
from pydantic import ValidationError

from jobyard_gateway.settings import ADMIN_TOKEN_MIN_CHARS, GatewaySettings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_admin_token_disables_user_creation(empty):
    assert GatewaySettings(admin_token=empty).admin_token is None


def test_a_short_admin_token_is_refused_naming_the_setting():
    with pytest.raises(ValidationError) as refused:
        GatewaySettings(admin_token="x" * (ADMIN_TOKEN_MIN_CHARS - 1))
    assert refused.value.errors()[0]["loc"] == ("admin_token",)
    assert f"at least {ADMIN_TOKEN_MIN_CHARS} characters" in str(refused.value)


def test_a_long_enough_admin_token_is_kept():
    token = "t" * ADMIN_TOKEN_MIN_CHARS
    assert GatewaySettings(admin_token=token).admin_token.get_secret_value() == token
