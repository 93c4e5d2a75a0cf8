"""Exchange Web Services: the on-premises (and Exchange Online) EWS endpoint and its mailbox store."""
