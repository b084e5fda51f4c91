"""Tables the CLI prints (rich renderables); no I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from app.engine.leaderboard import LeaderboardRow


def _num(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{float(value):,.{digits}f}"


def leaderboard_table(rows: list[LeaderboardRow], title: str = "") -> Table:
    table = Table(title=f"Leaderboard {title}".strip())
    for column in ("#", "team", "return %", "equity", "Sharpe", "max DD %", "trades", "status"):
        table.add_column(column, justify="right" if column not in ("team", "status") else "left")
    for row in rows:
        m = row.metrics
        table.add_row(
            str(row.rank),
            row.name,
            _num(m.total_return_pct, 3),
            _num(m.equity),
            _num(m.sharpe),
            _num(m.max_drawdown_pct, 3),
            str(m.trades),
            "active" if row.enabled else "disabled",
        )
    return table


def metrics_rows(latest: Mapping[str, dict | None], names: Mapping[str, str]) -> Table:
    """The leaderboard from each team's last metrics line (for `print-global`)."""
    table = Table(title="Leaderboard")
    for column in ("#", "team", "return %", "equity", "Sharpe", "Sortino", "max DD %", "trades"):
        table.add_column(column, justify="left" if column == "team" else "right")
    ordered = sorted(
        latest.items(),
        key=lambda item: (item[1] is None, -(item[1] or {}).get("total_return_pct", 0), item[0]),
    )
    for team_id, m in ordered:
        label = names.get(team_id, team_id)
        if m is None:
            table.add_row("-", label, "-", "-", "-", "-", "-", "0")
            continue
        table.add_row(
            str(m.get("rank", "-")),
            label,
            _num(m["total_return_pct"], 3),
            _num(m["equity"]),
            _num(m["sharpe"]),
            _num(m["sortino"]),
            _num(m["max_drawdown_pct"], 3),
            str(m["trades"]),
        )
    return table


def team_view(
    team_id: str,
    portfolio: dict | None,
    metrics: dict | None,
    trades: list[dict],
    errors: list[dict],
) -> list[Any]:
    out: list[Any] = []
    if portfolio is None:
        return [f"{team_id}: no snapshot yet"]
    rank = metrics.get("rank") if metrics else None
    out.append(
        f"[bold]{team_id}[/] at {portfolio['timestamp']}: equity {portfolio['equity']}, "
        f"cash {portfolio['cash']}, realised P&L {portfolio['realized_pnl']}, "
        f"fees {portfolio['fees']}, rank {rank if rank is not None else '-'}"
    )
    if metrics:
        out.append(
            f"return {_num(metrics['total_return_pct'], 3)}%, Sharpe {_num(metrics['sharpe'])}, "
            f"Sortino {_num(metrics['sortino'])}, "
            f"max drawdown {_num(metrics['max_drawdown_pct'], 3)}%, "
            f"Calmar {_num(metrics['calmar'])}, trades {metrics['trades']}, "
            f"win rate {_num(metrics['win_rate'])}, turnover {_num(metrics['turnover'])}"
        )
    out.append(_positions_table(portfolio["positions"]))
    recent = Table(title=f"last {len(trades)} trades")
    for column in ("time", "side", "qty", "symbol", "price", "fee", "trade id"):
        recent.add_column(column)
    for t in trades:
        recent.add_row(
            t["timestamp"],
            t["side"],
            t["quantity"],
            t["symbol"],
            t["price"],
            t["fee"],
            t["trade_id"],
        )
    out.append(recent)
    for e in errors:
        out.append(
            f"[yellow]{e['timestamp']} {e['kind']}:[/] {e['message'] or e.get('printed', '')}"
        )
    return out


def _positions_table(positions: Mapping[str, dict]) -> Table:
    table = Table(title="positions")
    for column in ("symbol", "quantity", "avg cost", "price", "value", "unrealised"):
        table.add_column(column, justify="left" if column == "symbol" else "right")
    for symbol, p in positions.items():
        table.add_row(
            symbol, p["quantity"], p["avg_cost"], p["price"], p["market_value"], p["unrealized_pnl"]
        )
    return table
