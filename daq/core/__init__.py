"""The ground every layer stands on: readings, the clock, units, instrument errors, operator
questions and plugin lookup. It imports nothing else of ours, so drivers, simulators,
procedures and the agent can all use it without pulling in each other."""
