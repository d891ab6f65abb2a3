"""Configuration schema and composition."""
