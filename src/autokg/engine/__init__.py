"""The stoppable executor: queries run in child processes that are killed on timeout."""
