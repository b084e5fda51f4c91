"""Where a competition is configured: the team registry and the host's settings."""
