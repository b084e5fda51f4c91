"""Market data sources (replay, synthetic, Alpaca), the session calendar and the bar lake."""
