"""Database plumbing: declarative base, async engine, migrations."""
