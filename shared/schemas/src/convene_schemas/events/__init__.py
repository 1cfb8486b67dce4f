"""The v1 event catalogue, one module per publishing service."""
