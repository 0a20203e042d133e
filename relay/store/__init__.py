"""The relay's storage: tables, engines and migrations."""
