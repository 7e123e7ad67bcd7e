-- 0013_consent_calls: one consent record per admitted call instead of one row per subject.
--
-- consent_calls: one row per admitted Match or Score call, written in the same transaction as
-- the admission and its consent uses: which request and release, who, which product under
-- which consent mode, the stated purpose, when (`used_at`, unix seconds), the subjects
-- admitted (`subjects`, newline-separated, request order; subject keys cannot hold newlines)
-- and the consent each one used (`consents`, a JSON array of consent labels, `id` or
-- `issuer/id`, aligned with `subjects`; `[]` for products declared `consent: none`). The admin
-- view answers "which subjects were checked without consent" (rows of mode 'none') and "how
-- was consent C used" (rows of C's principal and product within its validity whose `consents`
-- name it) from it. A consent's own `uses` counter (0007) stays the admission's decision.
--
-- verification_checks_zone_window: the zone-wide per-subject window (all principals of a
-- product and kind) is rebuilt from verification_checks without a principal.
--
-- The rows of consent_uses (0007, one per subject) move here, one per request, and that table
-- goes. Its rows were inserted in subject order, which the aggregation below keeps.

CREATE INDEX verification_checks_zone_window ON verification_checks (product, kind, checked_at);

CREATE TABLE consent_calls (
    call_id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    release_id TEXT NOT NULL,
    principal TEXT NOT NULL,
    product TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('none', 'operator', 'issuer')),
    purpose TEXT NOT NULL,
    used_at REAL NOT NULL,
    subject_count INTEGER NOT NULL CHECK (subject_count > 0),
    subjects TEXT NOT NULL,
    consents TEXT NOT NULL CHECK (json_valid(consents)),
    CHECK ((mode = 'none') = (consents = '[]'))
) STRICT;

CREATE INDEX consent_calls_by_scope ON consent_calls (principal, product, used_at);

CREATE INDEX consent_calls_without_consent ON consent_calls (product, call_id)
    WHERE mode = 'none';

INSERT INTO consent_calls (request_id, release_id, principal, product, mode, purpose, used_at,
                           subject_count, subjects, consents)
SELECT request_id,
       coalesce((SELECT c.release_id FROM verification_checks c
                 WHERE c.request_id = u.request_id LIMIT 1), ''),
       principal, product, mode, purpose,
       (julianday(min(used_at)) - 2440587.5) * 86400.0,
       count(*),
       group_concat(subject, char(10)),
       CASE WHEN mode = 'none' THEN '[]' ELSE json_group_array(
           CASE WHEN issuer = '' THEN consent_id ELSE issuer || '/' || consent_id END) END
FROM (SELECT * FROM consent_uses ORDER BY use_id) AS u
GROUP BY request_id, principal, product, mode, purpose
ORDER BY min(use_id);

DROP TABLE consent_uses;

-- consent_token_revocations: consent tokens an administrator revoked on behalf of the consent
-- authority that issued them (the subject withdrew consent at the authority), by the
-- authority's id and the token's consent id. A token listed here is refused at admission
-- (`revoked`) whether or not it was presented before; a recorded one is also marked revoked
-- in `consents` in the same transaction. Rows are never deleted.

CREATE TABLE consent_token_revocations (
    issuer TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    revoked_by TEXT NOT NULL,
    revoked_at TEXT NOT NULL,
    PRIMARY KEY (issuer, consent_id)
) STRICT;
