"""Try a strategy locally before uploading it: `python test_strategy.py [FILE] [CLASS]`.

Needs nothing but Python. It feeds the strategy 400 minutes of made-up bars in exactly
the shape the arena uses, checks every signal it returns against the contract, and
prints a summary. It also runs under pytest (`pytest test_strategy.py`). Passing here
does not guarantee acceptance (the arena also checks your cash, holdings and the
sandbox's import rules), but failing here guarantees trouble there.
"""

from __future__ import annotations

import importlib.util
import math
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

SYMBOLS = ["AAPL", "MSFT", "NVDA", "SPY", "TSLA"]
FIELDS = {"symbol", "action", "quantity", "order_type", "limit_price", "reason"}
WINDOW = 390


def check_signal(signal: object, prices: dict) -> list[str]:
    """The contract's schema rules; returns the problems (empty when fine)."""
    if not isinstance(signal, dict):
        return [f"a signal must be a dict, got {type(signal).__name__}"]
    problems = [f"unknown field {k!r}" for k in signal if k not in FIELDS]
    if signal.get("symbol") not in prices:
        problems.append(f"unknown symbol {signal.get('symbol')!r}")
    if signal.get("action") not in ("buy", "sell"):
        problems.append(f"action must be 'buy' or 'sell', got {signal.get('action')!r}")
    quantity = signal.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, (int, float)):
        problems.append(f"quantity must be a number, got {quantity!r}")
    elif not math.isfinite(quantity) or quantity <= 0 or quantity != int(quantity):
        problems.append(f"quantity must be a positive whole number, got {quantity!r}")
    order_type = signal.get("order_type", "market")
    if order_type not in ("market", "limit"):
        problems.append(f"order_type must be 'market' or 'limit', got {order_type!r}")
    if order_type == "limit" and not isinstance(signal.get("limit_price"), (int, float)):
        problems.append("a limit order needs a numeric limit_price")
    return problems


def fake_bars(minutes: int, seed: int = 1):
    """Yield (bars, current_prices) per minute: a random walk per symbol, oldest bar first."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 12, 13, 30, tzinfo=timezone.utc)
    history = {
        s: {k: [] for k in ("timestamp", "open", "high", "low", "close", "volume")} for s in SYMBOLS
    }
    price = {s: 50.0 + 40 * i for i, s in enumerate(SYMBOLS)}
    for minute in range(minutes):
        for symbol in SYMBOLS:
            opened = price[symbol]
            price[symbol] = round(max(1.0, opened * math.exp(rng.gauss(0, 0.002))), 2)
            bars = history[symbol]
            bars["timestamp"].append(start + timedelta(minutes=minute))
            bars["open"].append(opened)
            bars["high"].append(max(opened, price[symbol]) + 0.01)
            bars["low"].append(min(opened, price[symbol]) - 0.01)
            bars["close"].append(price[symbol])
            bars["volume"].append(float(rng.randint(1_000, 50_000)))
        window = {s: {k: v[-WINDOW:] for k, v in h.items()} for s, h in history.items()}
        yield window, dict(price)


def run(path: Path, class_name: str, minutes: int = 400, params: dict | None = None) -> dict:
    """Run the strategy over fake bars; returns counts, raises AssertionError on a bad signal."""
    spec = importlib.util.spec_from_file_location("team_strategy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    strategy = getattr(module, class_name)(params or {})
    team = {
        "id": "local",
        "name": "Local test",
        "cash": 100_000.0,
        "positions": {},
        "params": params or {},
        "bars_missing": False,  # the host could not fetch this minute's bars (never here)
        "missing_minutes": [],
        "api": None,
    }
    counts = {"minutes": 0, "signals": 0, "buys": 0, "sells": 0}
    for bars, prices in fake_bars(minutes):
        output = strategy.generate_signal(team, bars, prices)
        signals = [] if output is None else output if isinstance(output, list) else [output]
        assert isinstance(output, (dict, list, type(None))), f"returned {type(output).__name__}"
        for signal in signals:
            problems = check_signal(signal, prices)
            assert not problems, f"minute {counts['minutes']}: {signal}: {'; '.join(problems)}"
            _pretend_fill(team, signal, prices)
            counts["signals"] += 1
            counts["buys" if signal["action"] == "buy" else "sells"] += 1
        counts["minutes"] += 1
    return counts


def _pretend_fill(team: dict, signal: dict, prices: dict) -> None:
    """A crude fill at the last price, so that strategies see their positions change."""
    symbol, quantity = signal["symbol"], float(signal["quantity"])
    sign = 1 if signal["action"] == "buy" else -1
    position = team["positions"].setdefault(symbol, {"quantity": 0.0, "avg_cost": 0.0})
    new = position["quantity"] + sign * quantity
    if sign > 0 and new:
        position["avg_cost"] = (
            position["quantity"] * position["avg_cost"] + quantity * prices[symbol]
        ) / new
    position["quantity"] = new
    team["cash"] -= sign * quantity * prices[symbol]
    if new == 0:
        del team["positions"][symbol]


def test_starter_strategy_follows_the_contract() -> None:
    counts = run(Path(__file__).with_name("strategy.py"), "MomentumStrategy")
    assert counts["signals"] > 0, "the starter strategy should trade on a random walk"


if __name__ == "__main__":
    file = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("strategy.py")
    name = sys.argv[2] if len(sys.argv) > 2 else "MomentumStrategy"
    result = run(file, name)
    print(
        f"OK: {file.name}:{name} ran {result['minutes']} minutes and returned "
        f"{result['signals']} valid signals ({result['buys']} buys, {result['sells']} sells)"
    )
