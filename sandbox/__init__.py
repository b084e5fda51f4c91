"""The sandbox: the only code that touches untrusted strategies."""
