"""The triage conversation: plain Python over plain-JSON state, no SDK imports."""
