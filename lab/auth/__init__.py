"""HTTP authentication the lab's endpoints accept: Negotiate (Kerberos, NTLM), message encryption, a KDC."""
