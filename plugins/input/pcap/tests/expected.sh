#!/bin/sh
# expected.sh: writes expected.tsv, the numbers test_pcap.c checks input.pcap
# against, computed independently by tshark (Wireshark's dissectors) from
# the captures in ../shared/data/pcap. Run it again when the list below
# changes: sh expected.sh [DATA_DIR] > expected.tsv
#
# Per capture and mode: frames; frames with IP; of those, frames whose
# transport is TCP and UDP; wire bytes of the IP frames; IPv6 frames.
# mode outer: the first IP header of a frame and the protocol after it (what
# input.pcap reports by default; a tunnel counts as its outer protocol).
# mode decap: the innermost IP header that is not quoted inside an ICMP
# error (input.pcap with decap: true). IP reassembly is off, so a frame is
# one packet. Files with fragments are not listed: with reassembly off
# tshark calls a later fragment "data", where flowline joins it to its flow.
set -eu
data=${1:-${FLOWLINE_TEST_DATA:-$(dirname "$0")/../../../../../shared/data}}/pcap

outer="ndpi_1kxun.pcap ndpi_reddit.pcap ndpi_iphone.pcap ndpi_bot.pcap ndpi_ajp.pcap
ndpi_KakaoTalk_talk.pcap ndpi_KakaoTalk_chat.pcap ndpi_quic-v2.pcapng
tcpdump_802.1ad_QinQ.pcap tcpdump_mpls-traceroute.pcap ndpi_syslog.pcap ndpi_dns.pcap
tcpdump_LINKTYPE_IPV4.pcap tcpdump_LINKTYPE_IPV6.pcap tcpdump_LINKTYPE_RAW_ipv4.pcap
tcpdump_LINKTYPE_RAW_ipv6.pcap ndpi_nats.pcap ndpi_dlt_ppp.pcap
ndpi_BGP_Cisco_hdlc_slarp.pcap ndpi_sctp.pcap ndpi_nfsv3.pcap
tcpdump_tcp-handshake-nano.pcap tcpdump_ipv6-routing-header.pcap
tcpdump_ipv6-srh-ext-header.pcap tcpdump_bigtcp-ipv4.pcap tcpdump_bigtcp-ipv6-hbh.pcap
tcpdump_various_gre.pcap tcpdump_loopback.pcap"
decap="ndpi_gre.pcap ndpi_vxlan.pcap tcpdump_vxlan.pcap tcpdump_gso-ipv4-vxlan-ipv4.pcap
ndpi_4in4tunnel.pcap ndpi_4in6tunnel.pcap ndpi_6in4tunnel.pcap ndpi_6in6tunnel.pcap
tcpdump_erspan-type-ii-1.pcap tcpdump_various_gre.pcap ndpi_ipv6_in_gtp.pcap ndpi_dtls.pcap
ndpi_http_origin_different_than_host.pcap ndpi_ja3_lots_of_cipher_suites_2_anon.pcap
ndpi_gtp_false_positive.pcap ndpi_gtp_c.pcap ndpi_gtp_prime.pcap ndpi_teredo.pcap
tcpdump_geneve.pcap tcpdump_erspan-type-iii-pb-1.pcap ndpi_false_positives.pcap"

count() {   # $1 file, $2 mode
    tshark -n -r "$data/$1" -o ip.defragment:FALSE -o ipv6.defragment:FALSE \
        -T fields -e frame.protocols -e frame.len 2>/dev/null |
    awk -F'\t' -v file="$1" -v mode="$2" '
    {
        frames++
        n = split($1, a, ":")
        at = 0
        for (i = 1; i <= n; i++) {
            if (a[i] == "icmp" || a[i] == "icmpv6")
                break
            if (a[i] == "ip" || a[i] == "ipv6") {
                at = i
                if (mode == "outer")
                    break
            }
        }
        if (!at)
            next
        ip++
        bytes += $2
        if (a[at] == "ipv6")
            v6++
        l4 = ""
        for (j = at + 1; j <= n; j++)
            if (a[j] !~ /^ipv6\./) { l4 = a[j]; break }
        if (l4 == "tcp") tcp++
        if (l4 == "udp") udp++
    }
    END { printf "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", file, mode, frames, ip, tcp, udp, bytes, v6 }'
}

printf '# file\tmode\tframes\tip\ttcp\tudp\tbytes\tv6  (written by expected.sh from tshark %s)\n' \
    "$(tshark -v 2>/dev/null | head -1 | awk '{print $3}')"
for f in $outer; do count "$f" outer; done
for f in $decap; do count "$f" decap; done
