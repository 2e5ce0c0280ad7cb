"""The notifications service: organisations' subscriptions, publishing notices through the
transactional outbox, fan-out under consent, delivery records, test events and replay.

Use cases (each acts for a :class:`~civicstack.services.verifier.api_keys.Caller`: the admin
for any organisation, or a relying party's API key for its own):

* ``subscribe`` an endpoint URL to event types: a new ``whsec_`` secret, shown once;
* list, delete; ``rotate`` the secret (the old one keeps signing beside the new one for
  :data:`ROTATION_OVERLAP` seconds: Standard Webhooks §"Webhook headers"); ``set_signing_key``
  for ``v1a`` (Ed25519; the public key is published in the subscription's metadata);
* ``deliveries`` and ``attempts`` per endpoint; ``test`` sends one test event to one
  endpoint; ``replay`` puts dead letters back in line.

Publishing: a service that changes something calls :meth:`Notifications.publish` (its own
transaction) or, to commit the notice with its own rows, ``EventStore.enqueue_in(conn,
notice)`` inside its store transaction (the transactional outbox). :meth:`fan_out` turns outbox
rows into one delivery per endpoint told, asking the :class:`EventAudience` per organisation.
"""

from __future__ import annotations

import secrets as _secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from civicstack.errors import CivicError, InputError
from civicstack.events.cloudevents import encode
from civicstack.events.deliveries import (
    PARTITIONS,
    Attempt,
    Delivery,
    Subscription,
    lane_of,
    partition_of,
)
from civicstack.events.endpoints import check_address, parse_endpoint_url
from civicstack.events.notices import (
    TEST_EVENT_TYPE,
    Audience,
    Notice,
    check_event_type,
    render,
)
from civicstack.events.webhooks import PublicKey, SigningKey, WebhookSecret
from civicstack.services.notifications.audience import EventAudience
from civicstack.services.notifications.storage import EventStorage
from civicstack.services.verifier.api_keys import Caller
from civicstack.types import Clock

#: How long a rotated-out secret keeps signing beside the new one (a day).
ROTATION_OVERLAP: Final = 86_400
MAX_TYPES: Final = 32
MAX_SUBSCRIPTIONS_PER_ORGANISATION: Final = 1_000_000
MAX_LISTED: Final = 500

Resolver = Callable[[str, int], list[str]]


def resolve_host(host: str, port: int) -> list[str]:
    """The IP addresses ``host`` resolves to (``invalid_request`` when it does not)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(
            "invalid_request", f"the endpoint's host {host!r} does not resolve"
        ) from exc
    return sorted({str(info[4][0]) for info in infos})


def new_id(prefix: str) -> str:
    """A random id: ``prefix`` then 26 base32 characters (130 bits)."""
    return prefix + _secrets.token_hex(13)


@dataclass(frozen=True)
class SigningMaterial:
    """What a worker signs one endpoint's webhooks with, and where it sends them."""

    subscription: Subscription
    secrets: tuple[WebhookSecret, ...]
    keys: tuple[SigningKey, ...]


class Notifications:
    """Subscriptions, the outbox's fan-out and the delivery records."""

    def __init__(
        self,
        store: EventStorage,
        *,
        audience: EventAudience,
        authenticate: Callable[[str | None], Caller],
        relying_party: Callable[[str], object],
        clock: Clock,
        base_url: str,
        allow_private: bool = False,
        resolve: Resolver = resolve_host,
        partitions: int = PARTITIONS,
    ) -> None:
        self.store = store
        self.audience = audience
        self._authenticate = authenticate
        self._relying_party = relying_party
        self.clock = clock
        self.base_url = base_url
        self.allow_private = allow_private
        self.resolve = resolve
        self.partitions = partitions
        self.source = f"{base_url}/events"

    # --- who calls ---------------------------------------------------------------------------

    def authenticate(self, token: str | None) -> Caller:
        """The caller behind a bearer token (admin token or a relying party's API key)."""
        return self._authenticate(token)

    def _organisation(self, caller: Caller, named: str | None) -> str:
        organisation = caller.acting_for(named)
        if organisation is None:
            raise InputError("invalid_request", "name the organisation (admin token)")
        self._relying_party(organisation)
        return organisation

    def _own(self, caller: Caller, subscription_id: str) -> Subscription:
        found = self.store.subscription(subscription_id) if len(subscription_id) <= 40 else None
        if found is None or (
            caller.relying_party is not None and found.organisation != caller.relying_party
        ):
            raise CivicError("not_found", "no such subscription")
        return found

    # --- subscriptions -------------------------------------------------------------------

    def check_url(self, url: object) -> str:
        """An endpoint URL the platform may call (:mod:`civicstack.events.endpoints`)."""
        endpoint = parse_endpoint_url(url)
        for address in self.resolve(endpoint.host, endpoint.port):
            check_address(address, allow_private=self.allow_private)
        return endpoint.url

    def subscribe(
        self, caller: Caller, *, organisation: str | None, url: object, types: Sequence[object]
    ) -> tuple[Subscription, str]:
        """Subscribe an endpoint to event types; returns it and its ``whsec_`` secret (once)."""
        org = self._organisation(caller, organisation)
        if not types or len(types) > MAX_TYPES:
            raise InputError("invalid_request", f"subscribe to 1 to {MAX_TYPES} event types")
        checked: list[str] = []
        for t in types:
            if not isinstance(t, str):
                raise InputError("invalid_request", "event types are strings")
            if check_event_type(t) not in checked:
                checked.append(t)
        checked_url = self.check_url(url)
        secret = WebhookSecret.generate()
        now = self.clock.now()
        subscription = Subscription(
            id=new_id("sub_"),
            organisation=org,
            url=checked_url,
            types=tuple(checked),
            created_at=now,
        )
        self.store.add_subscription(subscription, {"current": str(secret)}, now=now)
        return subscription, str(secret)

    def listed(self, caller: Caller, organisation: str | None = None) -> list[Subscription]:
        """The organisation's subscriptions (the admin without a name: every one)."""
        org = caller.acting_for(organisation)
        return self.store.subscriptions(org)

    def get(self, caller: Caller, subscription_id: str) -> Subscription:
        """One subscription of the caller's."""
        return self._own(caller, subscription_id)

    def delete(self, caller: Caller, subscription_id: str) -> None:
        """Delete a subscription (deliveries still waiting for it stop)."""
        self._own(caller, subscription_id)
        self.store.delete_subscription(subscription_id)

    def rotate(self, caller: Caller, subscription_id: str) -> str:
        """A new secret; the previous one signs beside it for :data:`ROTATION_OVERLAP`."""
        self._own(caller, subscription_id)
        now = self.clock.now()
        old = self.store.secrets(subscription_id)
        secret = WebhookSecret.generate()
        self.store.set_secrets(
            subscription_id,
            {
                "current": str(secret),
                "previous": old["current"],
                "previous_until": now + ROTATION_OVERLAP,
            },
            now=now,
        )
        return str(secret)

    def set_signing_key(
        self, caller: Caller, subscription_id: str, private_key: str | None = None
    ) -> str:
        """Sign this endpoint's webhooks with ``v1a`` too: a new Ed25519 key (or the operator's
        ``whsk_`` key); returns the ``whpk_`` public key, also in the subscription's metadata."""
        self._own(caller, subscription_id)
        key = SigningKey.generate() if private_key is None else SigningKey.parse(private_key)
        public = str(key.public_key)
        self.store.set_signing_key(subscription_id, str(key), public, now=self.clock.now())
        return public

    def signing_material(self) -> tuple[int, dict[str, SigningMaterial]]:
        """Every subscription's URL, live secrets and keys, and their version (for workers)."""
        version, rows = self.store.keys()
        now = self.clock.now()
        out: dict[str, SigningMaterial] = {}
        for subscription, held, key in rows:
            secrets = [WebhookSecret.parse(held["current"])]
            if held.get("previous") and int(held.get("previous_until") or 0) > now:
                secrets.append(WebhookSecret.parse(held["previous"]))
            keys = (SigningKey.parse(key),) if key else ()
            out[subscription.id] = SigningMaterial(subscription, tuple(secrets), keys)
        return version, out

    def disable(self, subscription_id: str, reason: str) -> None:
        """Disable an endpoint (a ``410 Gone``); its waiting deliveries stop."""
        self.store.disable(subscription_id, reason, now=self.clock.now())

    # --- publishing and fan-out ----------------------------------------------------------

    def publish(self, notice: Notice) -> None:
        """Put ``notice`` in the outbox in a transaction of its own."""
        self.store.enqueue(notice)

    def test(self, caller: Caller, subscription_id: str) -> str:
        """Send one test event to one endpoint; returns its event id."""
        subscription = self._own(caller, subscription_id)
        if subscription.disabled_at is not None:
            raise CivicError("conflict", "the endpoint is disabled")
        notice = Notice(
            id=new_id("evt_"),
            type=TEST_EVENT_TYPE,
            source=self.source,
            time=self.clock.now(),
            extra={"subscription": subscription_id},
        )
        self.store.enqueue(notice, only=subscription_id)
        return notice.id

    def plan(
        self,
        notice: Notice,
        only: str | None,
        subscribed: Callable[[str, str | None], list[Subscription]] | None = None,
    ) -> list[tuple[str, str, str, int, bytes]]:
        """The deliveries of ``notice``: one per live subscription to its type whose
        organisation the audience lets hear of it (the test event: its one endpoint).

        The audience is asked once per organisation and the CloudEvent encoded once per
        audience: endpoints told the same thing (one organisation's endpoints, or every
        endpoint of a notice about no one) share one body; each is signed per attempt."""
        planned: list[tuple[str, str, str, int, bytes]] = []
        decided: dict[str, Audience | None] = {}
        bodies: dict[Audience, bytes] = {}
        for subscription in (subscribed or self.store.subscribed)(notice.type, only):
            org = subscription.organisation
            if org not in decided:
                decided[org] = self.audience.audience(notice, org)
            audience = decided[org]
            if audience is None:
                continue
            lane = lane_of(subscription.id, audience.subject)
            body = bodies.get(audience)
            if body is None:
                body = bodies[audience] = encode(render(notice, audience))
            planned.append(
                (
                    new_id("msg_"),
                    subscription.id,
                    lane,
                    partition_of(lane, self.partitions),
                    body,
                )
            )
        return planned

    def fan_out(self, *, limit: int, now: float) -> int:
        """Fan out up to ``limit`` outbox notices; how many there were. The subscriptions
        are read once per type for the whole batch."""
        seen: dict[tuple[str, str | None], list[Subscription]] = {}

        def subscribed(event_type: str, only: str | None) -> list[Subscription]:
            key = (event_type, only)
            if key not in seen:
                seen[key] = self.store.subscribed(event_type, only)
            return seen[key]

        return self.store.fan_out(
            lambda notice, only: self.plan(notice, only, subscribed), limit=limit, now=now
        )

    # --- what organisations see ----------------------------------------------------------

    def _scope(
        self, caller: Caller, subscription_id: str | None, organisation: str | None
    ) -> list[str]:
        if subscription_id is not None:
            return [self._own(caller, subscription_id).id]
        return [s.id for s in self.listed(caller, organisation)]

    def deliveries(
        self,
        caller: Caller,
        *,
        subscription_id: str | None = None,
        organisation: str | None = None,
        state: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """The newest deliveries to the caller's endpoints (in ``state``)."""
        ids = self._scope(caller, subscription_id, organisation)
        if not ids:
            return []
        return self.store.deliveries(
            subscription_ids=ids, state=state, limit=max(1, min(limit, MAX_LISTED))
        )

    def attempts(
        self,
        caller: Caller,
        *,
        subscription_id: str | None = None,
        organisation: str | None = None,
        limit: int = 100,
    ) -> list[Attempt]:
        """The newest delivery attempts at the caller's endpoints."""
        ids = self._scope(caller, subscription_id, organisation)
        if not ids:
            return []
        return self.store.attempts(subscription_ids=ids, limit=max(1, min(limit, MAX_LISTED)))

    def replay(
        self,
        caller: Caller,
        *,
        delivery_ids: Sequence[str] = (),
        subscription_id: str | None = None,
        now: float,
    ) -> int:
        """Dead letters back in line: these, or every one of an endpoint. How many."""
        ids = list(delivery_ids)
        for delivery_id in ids:
            found = self.store.delivery(delivery_id) if len(delivery_id) <= 40 else None
            if found is None:
                raise CivicError("not_found", f"no delivery {delivery_id[:40]}")
            self._own(caller, found.subscription_id)
        if subscription_id is not None:
            self._own(caller, subscription_id)
            ids += [
                d.id
                for d in self.store.deliveries(
                    subscription_ids=[subscription_id], state="dead", limit=MAX_LISTED
                )
            ]
        return self.store.replay(ids, now=now) if ids else 0


def public_key_of(text: str) -> PublicKey:
    """Read a published ``whpk_`` key."""
    return PublicKey.parse(text)
