"""The lab: a simulated Exchange hybrid organisation served on loopback over the real protocols."""
