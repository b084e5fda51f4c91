"""Run every benchmark: `python -m bench` (or `make bench`)."""

from bench import replay_throughput, sandbox_fanout

if __name__ == "__main__":
    replay_throughput.main()
    sandbox_fanout.main()
