"""The worker's side of the sandbox: the only code that runs beside a team's strategy.

Nothing here imports `app` or `sandbox.host`: a worker is built from the standard library,
the allowed libraries, RestrictedPython and `sandbox.wire` alone.
"""
