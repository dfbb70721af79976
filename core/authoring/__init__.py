"""Authoring helpers: playing a challenge's paths and grading its examples (used by notebooks)."""
