"""What an operator sees of the running bot: Prometheus metrics, health checks, logs.

- :mod:`~bot.observability.metrics`: the metrics, one registry per app, recorded by the
  harvester, the enqueuer, the dispatcher and the command handler, and read from the
  store and the arXiv gate when scraped;
- :mod:`~bot.observability.health`: the readiness checks (store, adapters, harvest);
- :mod:`~bot.observability.probes`: both answered from the running app's parts;
- :mod:`~bot.observability.server`: ``/healthz``, ``/readyz`` and ``/metrics`` over HTTP;
- :mod:`~bot.observability.logs`: log levels and the text and JSON log formats.
"""
