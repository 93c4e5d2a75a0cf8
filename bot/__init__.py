"""Hosting: the Teams endpoint, authentication, cards out and proactive messages (Microsoft 365 Agents SDK)."""
