"""``scrapeguard bench``: throughput, latency and memory, side by side with a naive Faust build."""
