"""The worker's HTTP API: views, explanations, the dashboard."""
