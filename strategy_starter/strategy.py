"""A momentum strategy: hold the symbols that rose most over the last `lookback` minutes.

Copy this file, change the logic, run `python strategy_starter/test_strategy.py
your_strategy.py` and upload it. The contract is in strategy_starter/README.md.
"""


class MomentumStrategy:
    def __init__(self, params=None):
        params = params or {}
        self.lookback = int(params.get("lookback", 30))  # minutes of history to compare
        self.top = int(params.get("top", 3))  # how many symbols to hold
        self.every = int(params.get("rebalance_every", 15))  # minutes between rebalances
        self.invest = float(params.get("invest_fraction", 0.9))  # share of equity to use
        self.minutes_seen = 0  # the instance lives across minutes: state is kept

    def generate_signal(self, team, bars, current_prices):
        self.minutes_seen += 1
        if self.minutes_seen % self.every != 0:
            return None
        scores = {}
        for symbol, window in bars.items():
            closes = window["close"]
            if len(closes) > self.lookback and closes[-self.lookback - 1] > 0:
                scores[symbol] = closes[-1] / closes[-self.lookback - 1] - 1.0
        if not scores:
            return None
        ranked = sorted(scores, key=lambda s: scores[s], reverse=True)
        winners = [s for s in ranked[: self.top] if scores[s] > 0]
        return self._rebalance(team, winners, current_prices)

    def _rebalance(self, team, winners, prices):
        positions = team["positions"]
        equity = team["cash"] + sum(
            p["quantity"] * prices.get(s, p["avg_cost"]) for s, p in positions.items()
        )
        signals = []
        for symbol, position in positions.items():
            if symbol not in winners and position["quantity"] > 0:
                signals.append(
                    {
                        "symbol": symbol,
                        "action": "sell",
                        "quantity": position["quantity"],
                        "reason": "no longer a top mover",
                    }
                )
        cash = team["cash"]
        budget = equity * self.invest / max(len(winners), 1)
        for symbol in winners:
            held = positions.get(symbol, {}).get("quantity", 0)
            want = int(budget // prices[symbol]) - int(held)
            cost = want * prices[symbol]
            if want > 0 and cost <= cash:
                cash -= cost
                signals.append(
                    {"symbol": symbol, "action": "buy", "quantity": want, "reason": "top mover"}
                )
        return signals
