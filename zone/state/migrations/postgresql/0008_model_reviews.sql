-- 0008_model_reviews (PostgreSQL): administrators' decisions on kept models; see SQLite's
-- 0008_model_reviews.sql.

CREATE TABLE model_reviews (
    model_id TEXT NOT NULL,
    product TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    review_digest TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (model_id, product)
);
