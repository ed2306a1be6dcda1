#!/bin/sh
# Benchmark: output.kafka into librdkafka's mock cluster (build/kafka_mock,
# 3 brokers, topics of 4 partitions), for each message format:
#  - cost: gen -> flowmeter -> output.kafka (key src_addr); the CPU seconds
#    of the output stage's thread and of librdkafka's threads (sampled from
#    /proc per thread), per 1 M flow records;
#  - rate: input.gen's packet records (a fast source, no flowmeter) into
#    output.kafka; records and messages per second of the whole run, flush
#    included, beside the same source into output.csv on /dev/null.
# Not part of ctest.
#
#   bench/kafka.sh [FLOWS] [FORMATS...]     (defaults: 1000000; json csv batch)
set -eu
cd "$(dirname "$0")/.."
[ -x build/flowline ] && [ -x build/kafka_mock ] || { echo "build first: cmake --build build" >&2; exit 1; }
exec /usr/bin/python3 bench/kafka_bench.py "$@"
