"""The running competition: composed from its parts, recovered, warmed, run, closed."""
