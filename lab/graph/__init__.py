"""Microsoft Graph: the Exchange Online calendar and directory calls."""
