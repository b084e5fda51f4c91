"""The one engine for live, paper and replay: the tick pipeline, clocks and ports."""
