"""The local demo: a real Kafka broker, the Timeplus emulator, a producer and the connector."""
