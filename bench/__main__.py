"""Run every benchmark: `python -m bench` (or `make bench`)."""

from bench.replay_throughput import main

if __name__ == "__main__":
    main()
