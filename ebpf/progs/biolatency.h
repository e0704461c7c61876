/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ABI between biolatency.bpf.c and ebpf/biolatency_reader.cc: fixed-width types only. */
#ifndef __BIOLATENCY_H
#define __BIOLATENCY_H

/* Ceil-log2 slots of the latency in microseconds: slot 0 holds <= 1 us, slot k holds
   (2^(k-1), 2^k] us; the last slot also holds everything above. */
#define TM_BIO_SLOTS 28

/* Key of `bio_hist`. node is always 0 (the reader sums the per-disk node histograms). */
struct tm_bio_key {
  __u64 cgroup_id; /* blkcg cgroup of the request's first bio (v1 blkio or v2 io), 0 unknown. */
  __u32 dev;       /* (major << 20) | minor of the whole disk, as the kernel's MKDEV. */
  __u16 op;        /* REQ_OP_*: 0 read, 1 write, 2 flush, 3 discard, ... */
  __u16 node;
};

struct tm_bio_hist {
  __u64 slots[TM_BIO_SLOTS];
  __u64 sum_ns; /* Sum of latencies, nanoseconds. */
};

#define TM_BIO_MAX_KEYS 10240
#define TM_BIO_MAX_INFLIGHT 10240

/* Indexes in `bio_stats`. */
#define TM_BIO_STAT_LOST 0 /* Requests not measured: in-flight table or histogram table full. */
#define TM_BIO_STAT_MAX 1

#endif /* __BIOLATENCY_H */
