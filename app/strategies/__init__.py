"""Loading team strategies, and the simple in-process runner used until the sandbox lands."""
