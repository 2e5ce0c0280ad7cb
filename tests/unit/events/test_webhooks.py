"""Standard Webhooks signing: ``v1`` checked by the official ``standardwebhooks`` library,
``v1a`` by a verifier written here from the specification (spec/standard-webhooks.md)."""

from __future__ import annotations

import base64
import time

import pytest
import standardwebhooks
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from civicstack.errors import CivicError
from civicstack.events import PublicKey, SigningKey, WebhookSecret, sign, verify

BODY = b'{"specversion":"1.0","id":"evt_1","source":"https://a.example","type":"t"}'


def spec_v1a_verify(public: str, headers: dict[str, str], body: bytes) -> bool:
    """From the spec alone: the key is ``whpk_`` + base64 of an Ed25519 public key; the signed
    content is ``id.timestamp.body``; the header lists ``v1a,<base64 signature>`` entries."""
    raw = base64.b64decode(public.removeprefix("whpk_"))
    key = Ed25519PublicKey.from_public_bytes(raw)
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    for entry in headers["webhook-signature"].split(" "):
        version, signature = entry.split(",", 1)
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(signature), content)
        except InvalidSignature:
            continue
        return True
    return False


def test_v1_verifies_with_the_official_library() -> None:
    """The library verifies our v1 signature and returns the body."""
    secret = WebhookSecret.generate()
    headers = sign("msg_1", int(time.time()), BODY, secrets=[secret])
    assert standardwebhooks.Webhook(str(secret)).verify(BODY, headers)["id"] == "evt_1"


def test_the_library_signs_what_we_sign() -> None:
    """Byte for byte, our v1 signature is the library's."""
    secret = WebhookSecret.generate()
    from datetime import UTC, datetime

    stamp = 1_767_225_600
    ours = sign("msg_1", stamp, BODY, secrets=[secret])["webhook-signature"]
    theirs = standardwebhooks.Webhook(str(secret)).sign(
        "msg_1", datetime.fromtimestamp(stamp, tz=UTC), BODY.decode()
    )
    assert ours == theirs


def test_rotation_signs_with_both_secrets() -> None:
    """During an overlap both the new and the old secret sign; a consumer holding either one
    verifies (spec §"Webhook headers")."""
    new, old = WebhookSecret.generate(), WebhookSecret.generate()
    headers = sign("msg_1", int(time.time()), BODY, secrets=[new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for held in (new, old):
        standardwebhooks.Webhook(str(held)).verify(BODY, headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(str(WebhookSecret.generate())).verify(BODY, headers)


def test_a_tampered_body_fails_the_library() -> None:
    """One byte changed and the library refuses it."""
    secret = WebhookSecret.generate()
    headers = sign("msg_1", int(time.time()), BODY, secrets=[secret])
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(str(secret)).verify(BODY.replace(b"evt_1", b"evt_2"), headers)


def test_v1a_verifies_with_a_verifier_from_the_spec() -> None:
    """Our v1a signature verifies under the published whpk_ key, and a tampered body does not."""
    key = SigningKey.generate()
    public = str(key.public_key)
    assert public.startswith("whpk_")
    headers = sign("msg_9", 1_767_225_600, BODY, secrets=[WebhookSecret.generate()], keys=[key])
    assert spec_v1a_verify(public, headers, BODY)
    assert not spec_v1a_verify(public, headers, BODY + b" ")
    assert not spec_v1a_verify(str(SigningKey.generate().public_key), headers, BODY)


def test_keys_round_trip_through_their_prefixed_forms() -> None:
    """whsec_, whsk_ (32-byte seed, or libsodium's 64 bytes) and whpk_ parse back."""
    secret = WebhookSecret.generate()
    assert WebhookSecret.parse(str(secret)) == secret
    key = SigningKey.generate()
    assert SigningKey.parse(str(key)) == key
    long_form = "whsk_" + base64.b64encode(key.seed + key.public_key.raw).decode()
    assert SigningKey.parse(long_form) == key
    assert PublicKey.parse(str(key.public_key)) == key.public_key


@pytest.mark.parametrize(
    "text",
    [
        "whsec_" + base64.b64encode(b"x" * 23).decode(),  # shorter than 24 bytes
        "whsec_" + base64.b64encode(b"x" * 65).decode(),  # longer than 64 bytes
        "whsec_!!!!",
        "sec_" + base64.b64encode(b"x" * 32).decode(),
    ],
)
def test_bad_secrets_are_refused(text: str) -> None:
    """Secrets outside 24-64 bytes, not base64 or without the prefix are refused."""
    with pytest.raises(CivicError) as caught:
        WebhookSecret.parse(text)
    assert caught.value.code == "invalid_key"


def test_our_verifier_checks_time_ids_and_signatures() -> None:
    """The consumer side: stale or future timestamps, ids with a dot, missing headers fail."""
    secret, key = WebhookSecret.generate(), SigningKey.generate()
    headers = sign("msg_1", 1000, BODY, secrets=[secret], keys=[key])
    assert verify(BODY, headers, now=1000, secrets=[secret]) == "msg_1"
    assert verify(BODY, headers, now=1000, public_keys=[key.public_key]) == "msg_1"
    with pytest.raises(CivicError):
        verify(BODY, headers, now=1000 + 301, secrets=[secret])
    with pytest.raises(CivicError):
        verify(BODY, {**headers, "webhook-id": "msg.1"}, now=1000, secrets=[secret])
    with pytest.raises(CivicError):
        verify(BODY, {"webhook-id": "msg_1"}, now=1000, secrets=[secret])
    with pytest.raises(CivicError):
        sign("a.b", 1000, BODY, secrets=[secret])
