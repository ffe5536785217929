"""What the tests, the demo and the benchmark run the connector against; never shipped with it.

``kafka_broker`` starts a real Apache Kafka broker from cached jars, ``timeplus_emulator``
answers Timeplus's ingest API, and ``demo`` is ``make demo``. Nothing in ``connector``
imports this package.
"""
