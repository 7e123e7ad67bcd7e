-- 0008_model_reviews: administrators' decisions on kept models serving Score (issue 14).
--
-- A kept model (models table) serves per-subject scores for a verification product only once
-- an administrator approved it for that product. One row per (model, product): the latest
-- decision. Every decision is also on the audit chain (model.approved / model.rejected), which
-- keeps the history. `review_digest` is the sha256 of the review the administrator saw
-- (features, weights, shares, training receipt), so a decision names exactly what was shown.

CREATE TABLE model_reviews (
    model_id TEXT NOT NULL,
    product TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    review_digest TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (model_id, product)
) STRICT;
