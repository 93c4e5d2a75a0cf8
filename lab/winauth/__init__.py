"""Windows authentication for the lab's WinRM and PowerShell endpoints: Negotiate, NTLM, Kerberos, encryption."""

__all__: list[str] = []
