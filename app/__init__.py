"""Strategy Arena: a host for trading-strategy competitions."""
