"""The pure core: plain functions and small classes, no Kafka, no asyncio."""
