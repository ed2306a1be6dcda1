/* bench/pcap_count.c: the libpcap baseline of bench/run.sh (DESIGN.md §8):
 * a bare pcap_next_ex loop that counts packets and bytes and does nothing
 * else, so "flowline vs pcap_next_ex" compares a whole pipeline with the
 * cheapest way libpcap can hand over the packets of the same file.
 *
 *   pcap_count FILE     prints "PACKETS packets BYTES bytes" */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned long long packets = 0, bytes = 0;
    pcap_t *p;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    if (!(p = pcap_open_offline(argv[1], err))) {
        fprintf(stderr, "%s: %s\n", argv[1], err);
        return 1;
    }
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        bytes += h->caplen;
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "%s: %s\n", argv[1], pcap_geterr(p));
    pcap_close(p);
    printf("%llu packets %llu bytes\n", packets, bytes);
    return rc == PCAP_ERROR;
}
