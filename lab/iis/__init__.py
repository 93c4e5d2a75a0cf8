"""IIS: every server's virtual directories over HTTPS, for the HTTPS probe."""
