"""Factor momentum with Qlib expressions: rank symbols by trend over volatility.

The host evaluates the expressions with Qlib over its bar history (`team["api"].features`)
and shares each one between the teams that ask, so asking costs little budget. Every
`rebalance_every` minutes it holds the `top` symbols whose score is positive.
"""

TREND = "Mean($close, 10) / Mean($close, 60) - 1"
VOLATILITY = "Std($close / Ref($close, 1) - 1, 60)"


class FactorMomentumStrategy:
    def __init__(self, params=None):
        params = params or {}
        self.top = int(params.get("top", 2))
        self.rebalance_every = int(params.get("rebalance_every", 15))
        self.position_dollars = float(params.get("position_dollars", 10_000))
        self.minutes = 0
        self.told = False

    def scores(self, api, symbols):
        """{symbol: trend / volatility} where both are known."""
        answer = api.features(symbols, [TREND, VOLATILITY], n=1)
        scores = {}
        for symbol, columns in answer.items():
            trend, volatility = float(columns[TREND][-1]), float(columns[VOLATILITY][-1])
            if trend == trend and volatility == volatility and volatility > 0:  # not NaN
                scores[symbol] = trend / volatility
        return scores

    def generate_signal(self, team, bars, current_prices):
        self.minutes += 1
        if self.minutes % self.rebalance_every:
            return None
        try:
            scores = self.scores(team["api"], sorted(current_prices))
        except Exception as error:  # e.g. Qlib not enabled on this host: hold, say why once
            if not self.told:
                print(f"features() unavailable, holding: {error}")
                self.told = True
            return None
        ranked = sorted((s for s in scores if scores[s] > 0), key=lambda s: -scores[s])
        wanted = ranked[: self.top]
        signals = []
        for symbol, position in sorted(team["positions"].items()):
            if symbol not in wanted and position["quantity"] > 0:
                signals.append(
                    {
                        "symbol": symbol,
                        "action": "sell",
                        "quantity": position["quantity"],
                        "reason": "left the top",
                    }
                )
        cash = team["cash"]
        for symbol in wanted:
            if symbol in team["positions"]:
                continue
            price = current_prices[symbol]
            quantity = int(min(self.position_dollars, cash) // price)
            if quantity > 0:
                cash -= quantity * price
                signals.append(
                    {
                        "symbol": symbol,
                        "action": "buy",
                        "quantity": quantity,
                        "reason": f"momentum score {scores[symbol]:.2f}",
                    }
                )
        return signals
