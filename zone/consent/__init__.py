"""Subject consent for verification (授权核验): records, authority tokens and their use.

Verification products declare ``consent: none | operator | issuer``. Under ``operator`` the
operator registers consent records (it keeps the signed authorization letter; the zone keeps
its SHA-256) and may revoke them; under ``issuer`` consents are Ed25519-signed tokens from the
consent authorities listed in the policies, which an operator cannot fabricate. Every subject of
a Match or Score call names its consent; :func:`check_and_consume` admits or refuses each
subject and uses one use of each admitted subject's consent in the admission's transaction.
The admin view (:mod:`zone.consent.admin`) answers which subjects were checked without consent
and what one consent authorized and how it was used.

This package knows no gRPC and no policies: callers pass the principal, the product's mode and
the authorities' public keys.
"""

from __future__ import annotations

from zone.consent.admin import ConsentReport, ConsentUse, checked_without_consent, consent_report
from zone.consent.consume import ConsentScope, check_and_consume, receipt_fields
from zone.consent.keys import decode_authority_key, encode_authority_key
from zone.consent.outcomes import ConsentOutcomes, SubjectConsent
from zone.consent.records import (
    ConsentRecord,
    consent_label,
    find,
    get,
    list_own,
    register,
    revoke,
    split_label,
)
from zone.consent.revocations import TokenRevocation, revoke_token
from zone.consent.terms import CONSENT_MODES, ConsentMode, ConsentReason, ConsentTerms
from zone.consent.tokens import (
    MAX_TOKEN_LENGTH,
    ConsentToken,
    MalformedToken,
    issue_token,
    parse_token,
    read_token_file,
    verify_token,
)

__all__ = [
    "CONSENT_MODES",
    "MAX_TOKEN_LENGTH",
    "ConsentMode",
    "ConsentOutcomes",
    "ConsentReason",
    "ConsentRecord",
    "ConsentReport",
    "ConsentScope",
    "ConsentTerms",
    "ConsentToken",
    "ConsentUse",
    "MalformedToken",
    "SubjectConsent",
    "TokenRevocation",
    "check_and_consume",
    "checked_without_consent",
    "consent_label",
    "consent_report",
    "decode_authority_key",
    "encode_authority_key",
    "find",
    "get",
    "issue_token",
    "list_own",
    "parse_token",
    "read_token_file",
    "receipt_fields",
    "register",
    "revoke",
    "revoke_token",
    "split_label",
    "verify_token",
]
