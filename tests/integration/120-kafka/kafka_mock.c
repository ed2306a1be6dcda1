/* kafka_mock.c: a Kafka cluster for tests and benchmarks, in its own
 * process, so flowline (producer and consumer) and kcat can all talk to it.
 *
 * librdkafka's mock cluster (rdkafka_mock.h) lives inside an rd_kafka_t
 * handle; this program owns one, creates the topics asked for, prints the
 * bootstrap list on the first line of stdout ("127.0.0.1:port,...") and then
 * reads commands from stdin, one a line, answering "ok" or "error ...":
 *   down N | up N     take broker N (1..brokers) down / bring it back
 *   down all | up all every broker
 *   topic NAME P      create topic NAME with P partitions
 * It exits on stdin EOF, so a test that dies leaves no cluster behind.
 *
 *   kafka_mock [-b brokers] [-p partitions] topic...
 *
 * Not a broker implementation: what the mock supports (produce, fetch,
 * consumer groups, offset commits, idempotent producer) is librdkafka's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static int mock_broker_set(rd_kafka_mock_cluster_t *mc, int brokers, const char *which, int up)
{
    int from = 1, to = brokers;
    if (strcmp(which, "all") != 0) {
        char *end;
        long id = strtol(which, &end, 10);
        if (*end || id < 1 || id > brokers)
            return -1;
        from = to = (int)id;
    }
    for (int id = from; id <= to; id++) {
        rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mc, id)
                                     : rd_kafka_mock_broker_set_down(mc, id);
        if (err)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int brokers = 3, partitions = 4, opt;
    char err[512];

    while ((opt = getopt(argc, argv, "b:p:")) != -1) {
        if (opt == 'b')
            brokers = atoi(optarg);
        else if (opt == 'p')
            partitions = atoi(optarg);
        else {
            fprintf(stderr, "usage: kafka_mock [-b brokers] [-p partitions] topic...\n");
            return 2;
        }
    }
    if (brokers < 1 || partitions < 1) {
        fprintf(stderr, "kafka_mock: brokers and partitions must be >= 1\n");
        return 2;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The handle only hosts the cluster; it never connects anywhere (so
     * no warning about bootstrap.servers). */
    if (rd_kafka_conf_set(conf, "client.id", "kafka_mock", err, sizeof(err)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: could not create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = optind; i < argc; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, argv[i], partitions,
                                                           brokers < 3 ? brokers : 3);
        if (e) {
            fprintf(stderr, "kafka_mock: topic %s: %s\n", argv[i], rd_kafka_err2str(e));
            return 1;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        char cmd[16], arg[200];
        int p = 0, n = sscanf(line, "%15s %199s %d", cmd, arg, &p);
        int rc = -1;
        if (n >= 2 && strcmp(cmd, "down") == 0)
            rc = mock_broker_set(mc, brokers, arg, 0);
        else if (n >= 2 && strcmp(cmd, "up") == 0)
            rc = mock_broker_set(mc, brokers, arg, 1);
        else if (n == 3 && strcmp(cmd, "topic") == 0 && p > 0)
            rc = rd_kafka_mock_topic_create(mc, arg, p, brokers < 3 ? brokers : 3) ? -1 : 0;
        if (rc == 0)
            puts("ok");
        else
            printf("error: %s", line);
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
