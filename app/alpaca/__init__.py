"""Reaching Alpaca: the alpaca-py clients from settings, tuned for the host."""
