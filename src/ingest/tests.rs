//! Tests of the whole ingest path.
