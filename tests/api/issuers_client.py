"""A test harness for the issuers' HTTP API: the platform app in-process on either database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from civicstack._crypto import PrivateKey
from civicstack.credential_types import PID_VCT
from civicstack.openid4vci import create_key_proof
from civicstack.openid4vci.offers import PRE_AUTHORIZED_GRANT
from civicstack.platform import Platform

BASE = "http://testserver"
PO = f"{BASE}/issuers/passport-office"
AMARA = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "birthdate": "1990-05-17",
    "issuing_country": "GB",
}


@dataclass
class Api:
    """The app, its platform, and shortcuts for the protocol's steps."""

    client: TestClient
    platform: Platform

    @property
    def admin(self) -> dict[str, str]:
        """The admin bearer header."""
        return {"Authorization": f"Bearer {self.platform.admin_token}"}

    def offer(self, issuer: str = "passport-office", **body: Any) -> dict[str, Any]:
        """Create an offer through the admin API; its JSON."""
        body.setdefault("vct", PID_VCT)
        body.setdefault("claims", AMARA)
        r = self.client.post(f"/issuers/{issuer}/admin/offers", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return dict(r.json())

    @staticmethod
    def code(offer: dict[str, Any]) -> str:
        """The pre-authorized code of an offer."""
        return str(offer["credential_offer"]["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"])

    def token_response(
        self, offer: dict[str, Any], issuer: str = "passport-office", **extra: str
    ) -> Any:
        """POST the token request for ``offer``."""
        form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": self.code(offer)}
        if offer.get("tx_code"):
            form["tx_code"] = offer["tx_code"]
        form.update(extra)
        return self.client.post(f"/issuers/{issuer}/token", data=form)

    def token(self, offer: dict[str, Any], issuer: str = "passport-office") -> str:
        """An access token for ``offer``."""
        r = self.token_response(offer, issuer)
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def nonce(self, issuer: str = "passport-office") -> str:
        """A fresh c_nonce."""
        r = self.client.post(f"/issuers/{issuer}/nonce")
        assert r.status_code == 200, r.text
        return str(r.json()["c_nonce"])

    def proof(
        self, key: PrivateKey, issuer: str = "passport-office", nonce: str | None = None
    ) -> str:
        """A key proof for ``issuer`` with a fresh nonce."""
        return create_key_proof(
            key,
            audience=f"{BASE}/issuers/{issuer}",
            nonce=nonce if nonce is not None else self.nonce(issuer),
            now=self.platform.clock.now(),
        )

    def credential(
        self,
        token: str | None,
        body: dict[str, Any] | bytes,
        issuer: str = "passport-office",
    ) -> Any:
        """POST a credential request."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
        return self.client.post(f"/issuers/{issuer}/credential", content=content, headers=headers)

    def request(
        self, keys: list[PrivateKey], issuer: str = "passport-office", **extra: Any
    ) -> dict[str, Any]:
        """A credential request body for the PID with one proof per key."""
        return {
            "credential_configuration_id": extra.pop("configuration", PID_VCT),
            "proofs": {"jwt": [self.proof(k, issuer) for k in keys]},
            **extra,
        }

    def deferred(self, token: str, transaction_id: str, issuer: str = "passport-office") -> Any:
        """POST a deferred credential request."""
        return self.client.post(
            f"/issuers/{issuer}/deferred_credential",
            json={"transaction_id": transaction_id},
            headers={"Authorization": f"Bearer {token}"},
        )
