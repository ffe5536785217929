-- The demo's streams. docker-compose mounts this into Proton's init directory;
-- `make demo` creates the same streams in the Timeplus emulator through this SQL.
CREATE STREAM IF NOT EXISTS orders (order_id int64, amount float64, currency low_cardinality(string), customer string, items array(string), created datetime64(3), key string, region string, source string);
CREATE STREAM IF NOT EXISTS order_totals (order_id int64, amount decimal(10, 2));
CREATE STREAM IF NOT EXISTS orders_avro (order_id int64, amount decimal(10, 2), customer string, created datetime64(3, 'UTC'), region string);
