"""The `triage` command line: it wires the other packages together."""
