// SPDX-License-Identifier: GPL-2.0
// Block I/O latency from issue to completion, log2 histograms per (cgroup, disk, op) and per
// (disk, op) for the node. The cgroup is the request's blkcg (rq->bio->bi_blkg), taken at issue.
// vmlinux.h (via tidemark.bpf.h) must come first.
// clang-format off
#include "tidemark.bpf.h"
#include "biolatency.h"
// clang-format on

char LICENSE[] SEC("license") = "GPL";

// Kernels before 5.11 (commit a54895fa057c "block: remove the request_queue to argument request
// based tracepoints") pass (struct request_queue *q, struct request *rq, ...); set by the reader.
const volatile bool targ_single = true;

// Everything the completion needs, taken at issue: the completion then does no kernel reads.
struct start {
  u64 ts;
  struct tm_bio_key key;
};

// LRU: a request whose completion is never traced (e.g. issued just before detach) cannot pin a
// slot forever.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, TM_BIO_MAX_INFLIGHT);
  __type(key, u64);
  __type(value, struct start);
} bio_start SEC(".maps");

// Per-CPU: plain increments instead of atomics on shared cache lines (a completion updates two
// histograms); the reader sums the CPUs.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, TM_BIO_MAX_KEYS);
  __type(key, struct tm_bio_key);
  __type(value, struct tm_bio_hist);
} bio_hist SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, TM_BIO_STAT_MAX);
  __type(key, u32);
  __type(value, u64);
} bio_stats SEC(".maps");

static const struct tm_bio_hist zero_hist;

// struct request lost rq_disk in 5.17 (commit f3fa33acca9f "block: remove the ->rq_disk field in
// struct request"); use rq->q->disk there.
struct request___old {
  struct gendisk* rq_disk;
} __attribute__((preserve_access_index));

static __always_inline void count_lost(void) {
  u32 k = TM_BIO_STAT_LOST;
  u64* lost = bpf_map_lookup_elem(&bio_stats, &k);
  if (lost) __sync_fetch_and_add(lost, 1);
}

static __always_inline u64 bio_cgroup_id(struct bio* bio) {
  if (!bpf_core_field_exists(((struct bio*)0)->bi_blkg)) return 0; /* !CONFIG_BLK_CGROUP */
  if (!bio) return 0;
  struct blkcg_gq* blkg = BPF_CORE_READ(bio, bi_blkg);
  if (!blkg) return 0;
  return tm_cgroup_id(BPF_CORE_READ(blkg, blkcg, css.cgroup));
}

// The head of struct request read at once: q, cmd_flags and bio sit in its first 64 bytes on
// current kernels (one bpf_probe_read_kernel instead of three); field by field otherwise.
#define TM_RQ_HEAD 64
static __always_inline void rq_head(struct request* rq, struct request_queue** q, u32* cmd_flags,
                                    struct bio** bio) {
  u32 off_q = bpf_core_field_offset(struct request, q);
  u32 off_flags = bpf_core_field_offset(struct request, cmd_flags);
  u32 off_bio = bpf_core_field_offset(struct request, bio);
  if (off_q <= TM_RQ_HEAD - 8 && off_flags <= TM_RQ_HEAD - 4 && off_bio <= TM_RQ_HEAD - 8) {
    u8 buf[TM_RQ_HEAD];
    if (bpf_probe_read_kernel(buf, sizeof(buf), rq) == 0) {
      __builtin_memcpy(q, buf + off_q, 8);
      __builtin_memcpy(cmd_flags, buf + off_flags, 4);
      __builtin_memcpy(bio, buf + off_bio, 8);
      return;
    }
  }
  *q = BPF_CORE_READ(rq, q);
  *cmd_flags = BPF_CORE_READ(rq, cmd_flags);
  *bio = BPF_CORE_READ(rq, bio);
}

static __always_inline u32 disk_dev(struct request* rq, struct request_queue* q) {
  struct gendisk* disk;
  if (bpf_core_field_exists(((struct request___old*)0)->rq_disk)) {
    disk = BPF_CORE_READ((struct request___old*)rq, rq_disk);
  } else {
    disk = BPF_CORE_READ(q, disk);
  }
  if (!disk) return 0;
  u32 major, minor;
  u32 off_major = bpf_core_field_offset(struct gendisk, major);
  u32 off_minor = bpf_core_field_offset(struct gendisk, first_minor);
  if (off_minor == off_major + 4) {  // Adjacent ints: one read.
    u32 both[2];
    if (bpf_probe_read_kernel(both, sizeof(both), (void*)disk + off_major) != 0) return 0;
    major = both[0];
    minor = both[1];
  } else {
    major = BPF_CORE_READ(disk, major);
    minor = BPF_CORE_READ(disk, first_minor);
  }
  return (major << 20) | minor;
}

static __always_inline void add(struct tm_bio_key* key, u32 slot, u64 delta_ns) {
  struct tm_bio_hist* h = bpf_map_lookup_elem(&bio_hist, key);
  if (!h) {
    bpf_map_update_elem(&bio_hist, key, &zero_hist, BPF_NOEXIST);
    h = bpf_map_lookup_elem(&bio_hist, key);
    if (!h) {
      count_lost();
      return;
    }
  }
  if (slot >= TM_BIO_SLOTS) slot = TM_BIO_SLOTS - 1;
  // This CPU's copy; the program does not nest on one CPU (the kernel skips recursive runs).
  h->slots[slot]++;
  h->sum_ns += delta_ns;
}

SEC("raw_tp/block_rq_issue")
int tm_block_rq_issue(struct bpf_raw_tracepoint_args* ctx) {
  struct request* rq = (struct request*)(targ_single ? ctx->args[0] : ctx->args[1]);
  struct request_queue* q;
  u32 cmd_flags;
  struct bio* bio;
  rq_head(rq, &q, &cmd_flags, &bio);
  struct start s = {};
  s.key.cgroup_id = bio_cgroup_id(bio);
  s.key.dev = disk_dev(rq, q);
  s.key.op = cmd_flags & 0xff; /* REQ_OP_MASK */
  s.ts = bpf_ktime_get_ns();
  u64 key = (u64)rq;
  if (bpf_map_update_elem(&bio_start, &key, &s, BPF_ANY) != 0) count_lost();
  return 0;
}

SEC("raw_tp/block_rq_complete")
int tm_block_rq_complete(struct bpf_raw_tracepoint_args* ctx) {
  u64 rq_key = targ_single ? ctx->args[0] : ctx->args[1];
  struct start* s = bpf_map_lookup_elem(&bio_start, &rq_key);
  if (!s) return 0; /* Issued before we attached. */
  u64 now = bpf_ktime_get_ns();
  u64 delta_ns = now > s->ts ? now - s->ts : 0;
  struct tm_bio_key key = s->key;
  bpf_map_delete_elem(&bio_start, &rq_key);
  u32 slot = tm_log2_slot(delta_ns / 1000, TM_BIO_SLOTS - 1);
  add(&key, slot, delta_ns);
  key.cgroup_id = 0;
  key.node = 1;
  add(&key, slot, delta_ns);
  return 0;
}
