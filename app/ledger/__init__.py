"""Ledgers on disk: JSONL appends, torn-line repair, Parquet folding, the order journal."""
