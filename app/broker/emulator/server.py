"""Running the emulator: blocking (`run_emulator`, for the CLI) or in a background thread
(`EmulatorServer`, for tests and local tools). One uvicorn worker, loopback by default."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from app.broker.emulator.app import create_emulator_app
from app.broker.emulator.faults import parse_faults
from app.broker.emulator.state import EmulatorConfig, EmulatorState
from app.broker.simulator import FillModel
from app.domain.corporate import CorporateAction
from app.market.corporate_file import from_replay_input
from app.market.replay import ReplayMarket

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def load_state(
    bars: Path,
    *,
    start: date | None = None,
    end: date | None = None,
    symbols: Sequence[str] | None = None,
    **config: Any,
) -> EmulatorState:
    """An EmulatorState over a replay source; `config` holds EmulatorConfig fields."""
    parse_faults(config.get("faults"))  # a bad spec fails before any data is read
    market = ReplayMarket.load(Path(bars), symbols, start, end)
    if not market.minutes():
        raise ValueError(f"{bars}: no bars between {start or 'the start'} and {end or 'the end'}")
    if not config.get("corporate_actions"):  # else the input's dividend/split columns
        config["corporate_actions"] = tuple(from_replay_input(market.corporate_actions))
    return EmulatorState(market, EmulatorConfig(**config))


def run_emulator(
    bars: Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: str | None = None,
    speed: float | None = None,
    api_key: str = "emulator-key",
    secret_key: str = "emulator-secret",
    start: date | None = None,
    end: date | None = None,
    symbols: Sequence[str] | None = None,
    cash: Decimal | str = "100000",
    rate_limit: int | None = None,
    slippage_bps: Decimal | str = "0",
    max_participation: Decimal | str | None = None,
    assets: Mapping[str, Mapping[str, Any]] | None = None,
    allow_remote: bool = False,
    log_level: str = "info",
    corporate_actions: Sequence[CorporateAction] = (),
) -> None:
    """Serve the Alpaca emulator until interrupted (blocking).

    `speed`: replay minutes per wall second (None: the clock moves only through
    POST /_emulator/advance). `rate_limit`: requests per minute per key (Alpaca: 200),
    None = not enforced. A non-loopback `host` needs `allow_remote=True`.
    """
    if host not in LOOPBACK and not allow_remote:
        raise ValueError(f"refusing to listen on {host}: the emulator is for loopback only")
    if speed is not None and speed <= 0:
        raise ValueError("speed must be > 0")
    participation = None if max_participation is None else Decimal(str(max_participation))
    state = load_state(
        bars,
        start=start,
        end=end,
        symbols=symbols,
        api_key=api_key,
        secret_key=secret_key,
        cash=Decimal(str(cash)),
        faults=faults,
        rate_limit=rate_limit,
        speed=speed,
        fill_model=FillModel(
            slippage_bps=Decimal(str(slippage_bps)), max_participation=participation
        ),
        assets=dict(assets or {}),
        corporate_actions=tuple(corporate_actions),
    )
    app = create_emulator_app(state)
    uvicorn.run(app, host=host, port=port, workers=1, log_level=log_level, access_log=False)


class EmulatorServer:
    """An emulator served by uvicorn in a daemon thread on a free loopback port.

    with EmulatorServer(state) as server:
        TradingClient(key, secret, paper=True, url_override=server.url)
    """

    def __init__(self, state: EmulatorState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            create_emulator_app(state), log_level="warning", access_log=False, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
