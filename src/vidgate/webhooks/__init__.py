"""Completion webhooks: the events of a job, recorded with its state changes and delivered
to the job's webhook URL, signed by the Standard Webhooks scheme."""
