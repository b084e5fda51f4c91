"""Run every benchmark: `python -m bench` (or `make bench`); `python -m bench.live_latency`
and the others run one alone."""

from bench import features_cost, live_latency, replay_throughput, sandbox_fanout, web_api

if __name__ == "__main__":
    replay_throughput.main()
    sandbox_fanout.main()
    live_latency.main()
    web_api.main()
    features_cost.main()
