"""An Entra-like token endpoint: the OAuth client-credentials tokens EWS and Graph accept."""
