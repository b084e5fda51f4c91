"""Mean reversion: buy a symbol that fell far below its recent average, sell on the way back."""


class MeanReversionStrategy:
    def __init__(self, params=None):
        params = params or {}
        self.window = int(params.get("window", 30))
        self.entry_z = float(params.get("entry_z", 2.0))
        self.exit_z = float(params.get("exit_z", 0.0))
        self.position_dollars = float(params.get("position_dollars", 10_000))

    def generate_signal(self, team, bars, current_prices):
        signals = []
        cash = team["cash"]
        for symbol in sorted(bars):
            closes = bars[symbol]["close"]
            if len(closes) < self.window:
                continue
            recent = [float(c) for c in closes[-self.window :]]
            mean = sum(recent) / len(recent)
            variance = sum((c - mean) ** 2 for c in recent) / (len(recent) - 1)
            if variance <= 0:
                continue
            z = (recent[-1] - mean) / variance**0.5
            held = team["positions"].get(symbol, {}).get("quantity", 0)
            price = current_prices[symbol]
            if held > 0 and z >= self.exit_z:
                signals.append(
                    {
                        "symbol": symbol,
                        "action": "sell",
                        "quantity": held,
                        "reason": f"reverted (z={z:.2f})",
                    }
                )
            elif held == 0 and z <= -self.entry_z:
                quantity = int(self.position_dollars // price)
                if quantity > 0 and quantity * price <= cash:
                    cash -= quantity * price
                    signals.append(
                        {
                            "symbol": symbol,
                            "action": "buy",
                            "quantity": quantity,
                            "reason": f"stretched (z={z:.2f})",
                        }
                    )
        return signals
