-- 0016_model_review_versions: models follow their data (issue 16). An approval of a kept model
-- for a product is made for the dataset version the zone served when the administrator decided.
-- Score with a model trained on another version than the one served now is refused until an
-- administrator approves it again for the served version (zone models approve; the same review).
-- Decisions recorded before this migration carry '' (no version): they hold only while the
-- served version is the one the model was trained on.

ALTER TABLE model_reviews ADD COLUMN dataset_version TEXT NOT NULL DEFAULT '';
