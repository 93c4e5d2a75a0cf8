"""Read-only backend checks, the ports they talk to, and the live backends behind those ports."""
