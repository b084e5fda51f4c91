"""What crosses between host and worker: the frames, their typed messages, the bar window."""
