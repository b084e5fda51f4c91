"""Pure domain: models, validation, netting, allocation, accounting, metrics. No I/O."""
