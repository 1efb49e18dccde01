"""scrapeguard's stream side: the Faust worker, the pure detection pipeline, the CLI."""

__version__ = "0.1.0"
