"""The organisation as Exchange reports it: cmdlets, their objects and the Test-* cmdlets."""
