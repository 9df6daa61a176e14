"""Jobs: the model and its state machine, the store, the dispatcher, the executor, recovery."""
