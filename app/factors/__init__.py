"""Qlib in the arena: factor expressions for strategies (`features()`), evaluated by the
host; the bar lake exported in Qlib's binary layout. Qlib itself is an optional extra."""
