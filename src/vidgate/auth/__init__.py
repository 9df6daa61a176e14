"""API keys (only SHA-256 hashes are stored) and scopes."""
