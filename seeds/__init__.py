"""Loading challenge files and demo data into a database, idempotently."""

from seeds.challenges import SeedReport, default_challenge_dir, ensure_seeded, seed_challenges

__all__ = ["SeedReport", "default_challenge_dir", "ensure_seeded", "seed_challenges"]
