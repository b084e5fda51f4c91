"""An Alpaca-compatible emulator: Alpaca's REST v2 (trading and 1-minute bars) served from
replayed bars, filled by the project's SimulatedBroker, with seeded fault injection.

It lets the live path — alpaca-py's TradingClient and StockHistoricalDataClient, pointed
at it with `url_override` — run offline, end to end. Modules:

- `state`   EmulatorConfig and EmulatorState (account, orders, positions, replay clock)
- `app`     create_emulator_app(state): the FastAPI app (Alpaca routes + /_emulator/ admin)
- `models`  the JSON shapes alpaca-py parses; `queries` request parsing; `errors` refusals
- `clock`   the replay clock; `bars` market-data pages; `books` broker, orders, positions
- `faults`  the fault language (see its docstring); `gate` the ASGI layer applying it
- `server`  run_emulator(...) (blocking, for the CLI) and EmulatorServer (thread, for tests)
"""

from app.broker.emulator.app import create_emulator_app
from app.broker.emulator.faults import FaultSpec, parse_faults
from app.broker.emulator.server import EmulatorServer, load_state, run_emulator
from app.broker.emulator.state import EmulatorConfig, EmulatorState

__all__ = [
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "FaultSpec",
    "create_emulator_app",
    "load_state",
    "parse_faults",
    "run_emulator",
]
