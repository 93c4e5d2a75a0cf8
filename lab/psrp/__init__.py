"""PowerShell Remoting (PSRP over WS-Management): the Exchange Management Shell endpoints."""
