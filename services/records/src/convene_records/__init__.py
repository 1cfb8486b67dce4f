"""Convene records: accounts, users, CRM records and their timelines."""
