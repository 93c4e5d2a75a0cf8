"""WS-Management: each Exchange server's WinRM host and the read-only host templates it runs."""
