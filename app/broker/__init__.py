"""Brokers behind the engine's Broker port: the simulator, Alpaca, the emulator."""
