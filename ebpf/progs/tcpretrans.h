/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ABI between tcpretrans.bpf.c and ebpf/tcpretrans_reader.cc: fixed-width types only. */
#ifndef __TCPRETRANS_H
#define __TCPRETRANS_H

/* Per-socket-cgroup counters: key of `retrans_by_cgroup`, value struct tm_retrans_val. */
struct tm_retrans_key {
  __u64 cgroup_id; /* v2 cgroup of the socket (sk_cgrp_data), 0 unknown. */
  __u32 netns_ino; /* Network namespace inode of the socket (fallback on v1-only hosts). */
  __u32 pad;
};

struct tm_retrans_val {
  __u64 segs;   /* Segments retransmitted (what the kernel adds to RetransSegs). */
  __u64 events; /* Tracepoint hits (one per retransmitted skb, failed attempts included). */
};

/* Top remote peers: key of the LRU `retrans_by_peer`, value struct tm_retrans_val. */
struct tm_peer_key {
  __u64 cgroup_id;
  __u8 daddr[16]; /* IPv4 in the first 4 bytes for AF_INET. */
  __u16 dport;    /* Host byte order. */
  __u16 family;   /* AF_INET (2) or AF_INET6 (10). */
  __u32 netns_ino;
};

#define TM_RETRANS_MAX_CGROUPS 10240
#define TM_RETRANS_MAX_PEERS 4096

/* Index of the lost-update counter in `retrans_stats`. */
#define TM_RETRANS_STAT_LOST 0
#define TM_RETRANS_STAT_MAX 1

#endif /* __TCPRETRANS_H */
