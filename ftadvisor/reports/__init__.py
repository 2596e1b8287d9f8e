"""Reports from the ledger: pandas frames, written as CSV, Parquet, Markdown and one self-contained HTML page."""
