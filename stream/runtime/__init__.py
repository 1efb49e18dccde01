"""The worker at run time: the Faust app, the agents, the model lifecycle, the global
view of decisions and incidents, metrics."""
