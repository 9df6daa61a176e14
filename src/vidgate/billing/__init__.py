"""Prices, reservations and settlement. Every balance change is an append-only ledger entry."""
