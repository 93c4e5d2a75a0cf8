"""Scenarios: the model of one organisation, loading and validating `lab/scenarios/*.yaml`."""
