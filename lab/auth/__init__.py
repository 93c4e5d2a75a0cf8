"""HTTP authentication the lab's endpoints accept (NTLM)."""
