"""The Kafka layer: client configuration, topics, reading a topic to its true end, the
batch writer and the batched consumer."""
