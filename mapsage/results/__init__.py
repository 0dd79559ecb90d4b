"""What a run leaves: ``metrics.json`` (``record``), pictures (``plots``), ``report.md`` and
tables (``report``), the environment fingerprint (``fingerprint``)."""
