"""Errors with stable codes: the one list every adapter shares.

Every failure a user can meet is a :class:`CivicError` carrying a ``code`` from :data:`CODES`.
The HTTP adapter turns it into problem+json (RFC 9457, ``type`` = ``urn:civicstack:error:<code>``),
the CLI into one line and a non-zero exit. Codes are part of the public contract: add new ones,
never rename or reuse one.
"""

from __future__ import annotations

from typing import ClassVar

#: code -> (HTTP status, one-line description). The description is the problem ``title``.
CODES: dict[str, tuple[int, str]] = {
    # --- generic input handling -------------------------------------------------------------
    "invalid_request": (400, "The request is malformed or missing a required part."),
    "too_large": (413, "The input exceeds the size limit."),
    "malformed": (400, "The input is not well-formed (encoding, JSON or structure)."),
    "not_found": (404, "No such resource."),
    "conflict": (409, "The resource already exists or changed concurrently."),
    "unauthorized": (401, "Authentication is required or failed."),
    "forbidden": (403, "The caller is not allowed to do this."),
    "unsupported": (400, "The feature, algorithm or version is not supported."),
    "internal_error": (500, "An unexpected error; it has been logged."),
    "io_error": (500, "A file could not be read or written."),
    "invalid_setting": (400, "A CIVIC_* setting names no known option or has a bad value."),
    "server_unreachable": (
        503,
        "The civicstack server could not be reached (is `civic up` running?).",
    ),
    "fetch_failed": (502, "A remote resource could not be fetched (network, status or size)."),
    # --- keys and JWS -----------------------------------------------------------------------
    "invalid_key": (400, "The key is malformed, of an unsupported type, or not on its curve."),
    "unsupported_algorithm": (
        400,
        "The algorithm is not on the allowlist or does not fit the key.",
    ),
    "invalid_signature": (400, "The signature does not verify."),
    "wrong_passphrase": (401, "The passphrase does not open the sealed key."),
    # --- SD-JWT and credentials (RFC 9901, SD-JWT VC) ----------------------------------------
    "invalid_disclosure": (400, "A disclosure is malformed."),
    "unreferenced_disclosure": (400, "A disclosure is not referenced by any digest."),
    "duplicate_digest": (400, "A digest appears more than once."),
    "duplicate_disclosure": (400, "The same disclosure is presented more than once."),
    "claim_collision": (400, "A disclosed claim name collides with a claim already present."),
    "reserved_claim": (400, "A disclosure uses a reserved claim name (_sd, ...)."),
    "key_binding_required": (400, "A key-binding JWT is required but missing."),
    "key_binding_failed": (400, "The key-binding JWT is invalid (signature, sd_hash, typ)."),
    "wrong_audience": (400, "The key-binding JWT is for another audience."),
    "wrong_nonce": (400, "The key-binding JWT carries another nonce."),
    "stale_key_binding": (400, "The key-binding JWT was issued too long ago or in the future."),
    "expired": (400, "The credential or token has expired."),
    "not_yet_valid": (400, "The credential or token is not valid yet."),
    "invalid_credential": (400, "The credential lacks a required claim or has a wrong type."),
    "undisclosable_claim": (400, "The claim cannot be disclosed (absent or not disclosable)."),
    # --- status lists -----------------------------------------------------------------------
    "revoked": (400, "The credential has been revoked."),
    "suspended": (400, "The credential is suspended."),
    "status_unavailable": (502, "The status list could not be fetched or verified."),
    "invalid_status_list": (400, "The status list token is malformed or fails verification."),
    # --- credentials core (status values beyond valid / revoked / suspended) -------------------
    "unknown_status": (400, "The credential's status value is not one this verifier accepts."),
    # --- trust ------------------------------------------------------------------------------
    "untrusted_issuer": (400, "The issuer does not chain to a configured root authority."),
    "out_of_scope": (400, "The issuer is not accredited for this credential type or claim."),
    "accreditation_revoked": (400, "An accreditation in the chain has been revoked."),
    "accreditation_expired": (400, "An accreditation in the chain is outside its validity."),
    "unregistered_relying_party": (403, "The relying party has no valid registration."),
    "relying_party_suspended": (403, "The relying party is suspended."),
    "overasking": (403, "The request asks for claims the registration does not allow."),
    # --- wallet -----------------------------------------------------------------------------
    "wallet_exists": (409, "A wallet already exists here."),
    "no_wallet": (404, "No wallet here: run `civic wallet init` first."),
    "consent_declined": (403, "The holder declined to share."),
    # --- pairwise subject identifiers (pairwise.py) --------------------------------------------
    "pid_without_identifier": (
        400,
        "The PID presentation does not disclose the personal administrative number and country.",
    ),
    # --- trust registry (trust.py) ----------------------------------------------------------
    "unknown_statement": (404, "The statement refers to an accreditation or party not on record."),
    # --- wallet (wallet.py) -----------------------------------------------------------------
    "wallet_corrupted": (500, "The wallet's files are damaged or were tampered with."),
    "no_matching_credential": (404, "No credential in the wallet can answer the request."),
    "no_unused_copy": (
        409,
        "Every copy of the credential was shown to another relying party: ask the issuer for a "
        "new offer, or allow reuse explicitly.",
    ),
    "decryption_failed": (400, "The ciphertext does not decrypt (wrong key or tampered data)."),
    # --- hosted authorities and their storage (authorities/, stores/) -------------------------
    "unknown_authority": (404, "No authority or relying party of that name on this platform."),
    "no_root_authority": (404, "The platform has no root authority yet (`civic authority init`)."),
    "database_error": (503, "The database is unreachable or refused the operation."),
    "unsupported_database": (500, "The database URL names a database civicstack does not run on."),
    # --- registers (GOV.UK Registers model, RSF) --------------------------------------------
    "invalid_rsf": (400, "An RSF line is malformed (command, arity, key, timestamp or hash)."),
    "invalid_item": (400, "An item is not a canonical JSON object of strings or string lists."),
    "invalid_entry": (400, "An entry is malformed (key, timestamp or item hashes)."),
    "invalid_schema": (400, "A field or register definition is malformed or inconsistent."),
    "unknown_field": (400, "An item has a field the register's schema does not define."),
    "invalid_datatype": (400, "A value does not match its field's datatype."),
    "invalid_cardinality": (400, "A value is a list where one value is expected, or the reverse."),
    "primary_key_mismatch": (
        400,
        "An item's primary-key field is missing or differs from its key.",
    ),
    "dangling_link": (400, "A link names a register or record that does not exist."),
    "hash_mismatch": (400, "An entry names an item hash that no added item has."),
    "root_hash_mismatch": (400, "The asserted root hash differs from the computed one."),
    "field_redefined": (
        409,
        "A field definition would change an existing field's datatype, cardinality or link.",
    ),
    "token_revoked": (401, "The custodian token has been revoked."),
    "token_expired": (401, "The custodian token has expired."),
    # --- Merkle log (RFC 9162, C2SP signed-note / tlog-checkpoint / tlog-proof) -------------
    "inclusion_proof_invalid": (400, "The inclusion proof does not lead to the root hash."),
    "consistency_proof_invalid": (400, "The consistency proof does not link the two tree heads."),
    "proof_out_of_range": (400, "The index or tree size lies beyond the tree."),
    "invalid_note": (400, "The signed note, checkpoint or receipt is malformed."),
    "untrusted_note": (400, "The note carries no valid signature from a trusted key."),
    "origin_mismatch": (400, "The checkpoint comes from another log (origin)."),
    "unknown_log": (404, "No log with that name."),
    "log_exists": (409, "A log with that name already exists."),
    "log_closed": (503, "The log was closed: it takes no more appends."),
    # --- credential issuance (OpenID4VCI 1.0 §6.3, §8.3.1, §9.3, §11.3; RFC 6749 §5.2; RFC 6750)
    "invalid_grant": (
        400,
        "The pre-authorized code or transaction code is wrong, used or expired.",
    ),
    "unsupported_grant_type": (400, "The token endpoint does not support this grant type."),
    "invalid_token": (401, "The access token is missing, unknown, expired or already used."),
    "invalid_credential_request": (400, "The credential request is malformed."),
    "unknown_credential_configuration": (400, "The credential configuration is not offered."),
    "unknown_credential_identifier": (400, "The credential identifier is unknown."),
    "invalid_proof": (400, "A key proof is missing or invalid."),
    "invalid_nonce": (400, "A key proof carries an unknown, used or expired c_nonce."),
    "invalid_encryption_parameters": (400, "Credential response encryption is not supported."),
    "credential_request_denied": (400, "The credential issuer will not issue this credential."),
    "invalid_transaction_id": (400, "The deferred transaction is unknown or already collected."),
    "invalid_notification_id": (400, "The notification id is unknown."),
    "invalid_notification_request": (400, "The notification request is malformed."),
    "invalid_offer": (400, "The credential offer or the issuer's metadata is malformed."),
    "invalid_document": (415, "An uploaded document is not an accepted type (PDF, PNG, JPEG)."),
    "rate_limited": (429, "Too many submissions from this client: retry after Retry-After."),
    "storage_full": (507, "The storage for pending applications' documents is full."),
    "documents_expired": (410, "The documents were deleted under the retention schedule."),
    # --- verifier and trust registry services (OpenID4VP 1.0, api/verifier.py, api/trust.py) ---
    "invalid_request_object": (
        400,
        "The OpenID4VP request object is malformed, wrongly signed or not trusted.",
    ),
    "query_not_satisfied": (
        400,
        "The presentations do not answer the DCQL query (type, claims or values).",
    ),
    "request_answered": (409, "The presentation request has been answered already."),
    "replayed": (409, "This presentation was accepted before: a replay is refused."),
    "wallet_error": (400, "The wallet answered the presentation request with an error."),
    "result_fetched": (410, "The result was fetched once and then deleted."),
    "result_purged": (410, "The result was deleted unread after its retention."),
    # --- consent (consent/, services/consent/, api/consent.py) ---------------------------------
    "consent_not_found": (404, "No consent with that id."),
    "consent_not_active": (
        403,
        "The consent is refused, withdrawn, expired, not yet valid, or a one-time consent "
        "already used.",
    ),
    "outside_consent": (
        403,
        "The access is outside the consent: another requester, provider or subject, or a "
        "purpose or data category it does not cover.",
    ),
    "consent_request_closed": (409, "The consent request was answered already or has expired."),
    "invalid_consent": (
        400,
        "The signed consent or withdrawal is malformed, of another type, stale, or differs "
        "from what it answers.",
    ),
    "unknown_nonce": (400, "The nonce was not handed out by this service."),
    "stale_nonce": (400, "The nonce has expired: ask for a new one."),
    "wrong_subject": (
        403,
        "The presentation names another citizen than the one the consent or request is about.",
    ),
    # --- witnesses (C2SP tlog-witness, tlog-cosignature; log/witness.py, log/cosignature.py) ---
    "unknown_origin": (404, "The witness does not witness a log with this origin."),
    "checkpoint_unauthenticated": (
        403,
        "The checkpoint carries no valid signature from a key the witness trusts for its log.",
    ),
    "witness_conflict": (
        409,
        "The old size is not the size of the latest checkpoint the witness cosigned.",
    ),
    "checkpoint_inconsistent": (
        422,
        "The checkpoint is not consistent with the latest one the witness cosigned.",
    ),
    "invalid_cosignature": (400, "A cosignature from a trusted witness does not verify."),
    "witness_quorum_not_met": (
        400,
        "The checkpoint lacks the witness cosignatures the policy requires.",
    ),
    "split_view": (
        400,
        "The log showed two different trees of the same size: a fork (split view).",
    ),
    "witness_unavailable": (502, "The witness could not be reached or refused the checkpoint."),
    "witness_state_locked": (409, "Another witness process holds this state directory."),
    # --- data exchange and the access log (services/exchange, api/exchange.py, api/access.py) --
    "unknown_data_service": (404, "No such data service is published on the exchange."),
    "category_not_offered": (403, "The data service does not offer that data category."),
    "no_record": (404, "The provider holds no record about that subject."),
    "provider_unavailable": (
        502,
        "The provider's data service did not answer in time with a well-formed record.",
    ),
    "access_log_unavailable": (
        503,
        "The access log could not be written, so no data was released; try again.",
    ),
    "map_root_missing": (
        400,
        "The access log's checkpoint does not end with the subject map's root (or it is not "
        "shown).",
    ),
    "map_proof_invalid": (400, "The subject map proof does not lead to the committed map root."),
    "access_chain_broken": (
        400,
        "An access-log entry about the citizen does not link to their entry before it.",
    ),
    "access_history_incomplete": (
        400,
        "The access history shown is not every entry about the citizen the log holds.",
    ),
    "access_history_rollback": (
        400,
        "The access history does not extend the one the wallet verified before.",
    ),
    # --- GP registration (services/gp_registration, api/gp.py) ---------------------------------
    "practice_unknown": (
        404,
        "No such GP practice in the gp-practice register, or none on the platform.",
    ),
    "practice_closed": (409, "The GP practice has closed (its register record has an end-date)."),
    "practice_not_accepting": (409, "The GP practice is not accepting new patients."),
    # --- change reports and the electoral roll (changes/, services/changes/, api/changes.py) ---
    "invalid_change": (
        400,
        "The change report is malformed, of another type, stale, or differs from what was "
        "presented.",
    ),
    "unknown_address": (400, "The address names no record of the address register."),
    "address_ended": (400, "The address register's record of that address has ended."),
    "not_an_officer": (
        403,
        "The signer is not named as an officer of the company in the company register.",
    ),
    "unknown_company": (400, "The company register holds no such company, or it has ended."),
    "change_not_found": (404, "No change report with that id."),
    # --- one login: the OpenID Provider (sso/, services/sso, api/oidc.py) ----------------------
    "invalid_client": (
        401,
        "Client authentication failed: unknown client, wrong secret or a bad client assertion.",
    ),
    "invalid_redirect_uri": (400, "The redirect URI is not one registered for the client."),
    "invalid_client_metadata": (400, "The client metadata is malformed or not allowed here."),
    "unsupported_response_type": (400, "Only the authorization code flow (code) is supported."),
    "invalid_scope": (400, "The scope is malformed or lacks openid."),
    "login_required": (400, "The citizen is not signed in, and prompt=none forbids asking."),
    "login_pending": (409, "The wallet has not presented yet: present, then continue."),
}


class CivicError(Exception):
    """A failure with a stable ``code`` (a key of :data:`CODES`) and a human ``detail``."""

    default_code: ClassVar[str] = "invalid_request"

    def __init__(self, code: str | None = None, detail: str = "") -> None:
        code = code or self.default_code
        if code not in CODES:
            raise ValueError(f"unregistered error code {code!r}: add it to civicstack.errors.CODES")
        self.code = code
        self.detail = detail or CODES[code][1]
        super().__init__(f"{code}: {self.detail}")

    @property
    def status(self) -> int:
        """The HTTP status that goes with the code."""
        return CODES[self.code][0]

    @property
    def title(self) -> str:
        """The code's one-line description."""
        return CODES[self.code][1]


class VerificationError(CivicError):
    """Verification failed: the input was read and is not valid (signature, chain, status...)."""

    default_code = "invalid_signature"


class InputError(CivicError):
    """The input could not be read at all: too large, malformed, unsupported."""

    default_code = "malformed"


class UnreadableInputError(InputError, VerificationError):
    """A verifier's refusal of input it could not read (``malformed``, ``too_large``...).

    Both an :class:`InputError` (what it is) and a :class:`VerificationError` (what a verifier
    promises to raise for every refusal), so ``except VerificationError`` around a verifier
    catches an empty string or a truncated token as surely as a bad signature.
    """


class RetryLaterError(CivicError):
    """Refused for now: the caller may try again in ``retry_after`` seconds (the HTTP adapter
    sends them as ``Retry-After``, RFC 9110 §10.2.3)."""

    default_code = "rate_limited"

    def __init__(self, code: str | None = None, detail: str = "", *, retry_after: int) -> None:
        super().__init__(code, detail)
        self.retry_after = max(1, int(retry_after))


class ProtocolError(CivicError):
    """A failure that an OAuth-family protocol names with its own ``error`` value.

    OpenID4VCI (§6.3, §8.3.1), OpenID4VP and RFC 6749 §5.2 clients read ``error`` and
    ``error_description``; the HTTP adapter puts both into the problem+json body next to the
    stable ``code``, so spec clients and civicstack clients each find what they look for.
    """

    def __init__(self, code: str, oauth_error: str, detail: str = "") -> None:
        super().__init__(code, detail)
        self.oauth_error = oauth_error
