-- 0016_model_review_versions (PostgreSQL): see SQLite's 0016_model_review_versions.sql.

ALTER TABLE model_reviews ADD COLUMN dataset_version TEXT NOT NULL DEFAULT '';
