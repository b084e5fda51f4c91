"""The benchmark: spread the cash equally over a few symbols on the first minute, then hold.

It also shows a limit order: each buy is placed slightly below the last price and
rests (host-side) until the market comes to it, or the session ends.
"""


class BuyAndHoldStrategy:
    def __init__(self, params=None):
        params = params or {}
        self.symbols = params.get("symbols")  # None: the first `count` symbols
        self.count = int(params.get("count", 5))
        self.discount = float(params.get("limit_discount", 0.001))
        self.wait = 0  # minutes to wait for resting limits before placing them again

    def generate_signal(self, team, bars, current_prices):
        if team["positions"]:
            return None
        if self.wait > 0:
            self.wait -= 1
            return None
        chosen = self.symbols or sorted(current_prices)[: self.count]
        chosen = [s for s in chosen if s in current_prices]
        if not chosen:
            return None
        self.wait = 390  # a limit rests for the rest of the session, then expires
        budget = team["cash"] * 0.95 / len(chosen)
        signals = []
        for symbol in chosen:
            limit = round(current_prices[symbol] * (1 - self.discount), 2)
            quantity = int(budget // current_prices[symbol])
            if quantity > 0:
                signals.append(
                    {
                        "symbol": symbol,
                        "action": "buy",
                        "quantity": quantity,
                        "order_type": "limit",
                        "limit_price": limit,
                        "reason": "benchmark entry",
                    }
                )
        return signals
