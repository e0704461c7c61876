// SPDX-License-Identifier: GPL-2.0
// TCP retransmits attributed to the socket's cgroup (never to `current`: retransmits fire from
// timer and NET_RX softirqs), with a bounded LRU table of remote peers.
// vmlinux.h (via tidemark.bpf.h) must come first.
// clang-format off
#include "tidemark.bpf.h"
#include "tcpretrans.h"
// clang-format on

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, TM_RETRANS_MAX_CGROUPS);
  __type(key, struct tm_retrans_key);
  __type(value, struct tm_retrans_val);
} retrans_by_cgroup SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, TM_RETRANS_MAX_PEERS);
  __type(key, struct tm_peer_key);
  __type(value, struct tm_retrans_val);
} retrans_by_peer SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, TM_RETRANS_STAT_MAX);
  __type(key, u32);
  __type(value, u64);
} retrans_stats SEC(".maps");

// Before 5.15 (commit 8520e224f547 "bpf, cgroups: Fix cgroup v2 fallback on v1/v2 mixed mode")
// sock_cgroup_data was a union of bit fields and `u64 val`; val is the cgroup pointer when its
// low bit (is_data) is 0, otherwise v1 net_cls/net_prio data overwrote it and the kernel used the
// root cgroup.
struct sock_cgroup_data___old {
  union {
    struct {
      u8 is_data : 1;
      u8 no_refcnt : 1;
      u8 unused : 6;
      u8 padding;
      u16 prioidx;
      u32 classid;
    };
    u64 val;
  };
} __attribute__((preserve_access_index));

static __always_inline u64 sock_cgroup_id(struct sock* sk) {
  struct sock_cgroup_data* skcd = &sk->sk_cgrp_data;
  if (bpf_core_field_exists(skcd->cgroup)) {
    return tm_cgroup_id(BPF_CORE_READ(skcd, cgroup));
  }
  struct sock_cgroup_data___old* old = (void*)skcd;
  u64 val = BPF_CORE_READ(old, val);
  if (val & 1) return 1; /* v1 data: the kernel attributes to the v2 root. */
  return tm_cgroup_id((struct cgroup*)val);
}

// Newer kernels pass `int err` as a third argument (the format's `err` field; checked by the
// reader in kernel BTF) and also fire for failed attempts, which RetransSegs does not count.
const volatile bool targ_has_err = false;

static __always_inline void bump(void* map, void* key, u64 segs) {
  struct tm_retrans_val* v = bpf_map_lookup_elem(map, key);
  if (v) {
    __sync_fetch_and_add(&v->segs, segs);
    __sync_fetch_and_add(&v->events, 1);
    return;
  }
  struct tm_retrans_val init = {segs, 1};
  if (bpf_map_update_elem(map, key, &init, BPF_NOEXIST) != 0) {
    v = bpf_map_lookup_elem(map, key); /* Lost a race with another CPU. */
    if (v) {
      __sync_fetch_and_add(&v->segs, segs);
      __sync_fetch_and_add(&v->events, 1);
    } else {
      u32 k = TM_RETRANS_STAT_LOST;
      u64* lost = bpf_map_lookup_elem(&retrans_stats, &k);
      if (lost) __sync_fetch_and_add(lost, 1);
    }
  }
}

// TP_PROTO(const struct sock *sk, const struct sk_buff *skb[, int err]) since 4.15.
SEC("raw_tp/tcp_retransmit_skb")
int tm_tcp_retransmit_skb(struct bpf_raw_tracepoint_args* ctx) {
  struct sock* sk = (struct sock*)ctx->args[0];
  struct sk_buff* skb = (struct sk_buff*)ctx->args[1];
  if (!sk) return 0;
  // Segments in this skb: tcp_skb_pcount() = TCP_SKB_CB(skb)->tcp_gso_segs (skb->cb).
  u64 segs = 0;
  if (!targ_has_err || (int)ctx->args[2] == 0) {
    struct tcp_skb_cb* tcb = (void*)skb + bpf_core_field_offset(struct sk_buff, cb);
    segs = BPF_CORE_READ(tcb, tcp_gso_segs);
    if (segs == 0) segs = 1;
  }
  struct tm_retrans_key key = {};
  key.cgroup_id = sock_cgroup_id(sk);
  key.netns_ino = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
  bump(&retrans_by_cgroup, &key, segs);

  struct tm_peer_key peer = {};
  peer.cgroup_id = key.cgroup_id;
  peer.netns_ino = key.netns_ino;
  peer.family = BPF_CORE_READ(sk, __sk_common.skc_family);
  peer.dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (peer.family == 10 /* AF_INET6 */) {
    BPF_CORE_READ_INTO(&peer.daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
  } else {
    u32 daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(peer.daddr, &daddr, 4);
  }
  bump(&retrans_by_peer, &peer, segs);
  return 0;
}
