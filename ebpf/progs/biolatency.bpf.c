// SPDX-License-Identifier: GPL-2.0
// Block I/O latency from issue to completion, log2 histograms per (cgroup, disk, op); the reader
// derives the per-disk node histograms by summing them. The cgroup is the request's blkcg
// (rq->bio->bi_blkg). One histogram update per request, at its completion; the issue time comes
// from the kernel's own rq->io_start_time_ns where the queue keeps I/O statistics (RQF_STATS, e.g.
// with writeback throttling, the default), so the issue program returns after two reads, and from
// a start-time map otherwise.
// vmlinux.h (via tidemark.bpf.h) must come first.
// clang-format off
#include "tidemark.bpf.h"
#include "biolatency.h"
// clang-format on

char LICENSE[] SEC("license") = "GPL";

// Kernels before 5.11 (commit a54895fa057c "block: remove the request_queue to argument request
// based tracepoints") pass (struct request_queue *q, struct request *rq, ...); set by the reader.
const volatile bool targ_single = true;
// Bit numbers of QUEUE_FLAG_STATS in request_queue::queue_flags and of __RQF_STATS in
// request::rq_flags, found by the reader in kernel BTF (QUEUE_FLAG_* is an anonymous enum, out of
// CO-RE's reach); -1 when unknown: then every request goes through bio_start.
const volatile int targ_queue_stats_bit = -1;
const volatile int targ_rqf_stats_bit = -1;

// Issue time of requests the kernel does not stamp. LRU: a request whose completion is never
// traced (e.g. issued just before detach) cannot pin a slot forever.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, TM_BIO_MAX_INFLIGHT);
  __type(key, u64);
  __type(value, u64);
} bio_start SEC(".maps");

// Per-CPU: plain increments instead of atomics on shared cache lines; the reader sums the CPUs.
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

// What this CPU resolved for its last completion: consecutive requests mostly come from the
// same disk and cgroup, so the chains q -> disk -> dev and blkcg -> cgroup -> kernfs node -> id
// are walked only when the pointer at their head changes (2 and 3 reads saved per request).
// blkcg is a cgroup's block state and lives as long as the cgroup, so its cgroup id cannot change
// under an unchanged pointer; a freed and reused one would be a new cgroup, read again unless it
// lands at the same address before this CPU completes any other cgroup's request.
struct last_seen {
  struct request_queue* q;
  struct blkcg* blkcg;
  u64 cgroup_id;
  u32 dev;
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, struct last_seen);
} bio_last SEC(".maps");

static __always_inline u64 bio_cgroup_id(struct bio* bio, struct last_seen* last) {
  if (!bpf_core_field_exists(((struct bio*)0)->bi_blkg)) return 0; /* !CONFIG_BLK_CGROUP */
  if (!bio) return 0;
  struct blkcg_gq* blkg = BPF_CORE_READ(bio, bi_blkg);
  if (!blkg) return 0;
  struct blkcg* blkcg = BPF_CORE_READ(blkg, blkcg);
  if (!blkcg) return 0;
  if (last && last->blkcg == blkcg) return last->cgroup_id;
  u64 id = tm_cgroup_id(BPF_CORE_READ(blkcg, css.cgroup));
  if (last) {
    last->blkcg = blkcg;
    last->cgroup_id = id;
  }
  return id;
}

// Before io_start_time_ns existed (4.17, commit 544ccc8dc904 "block: get rid of struct
// blk_issue_stat"), only the start-time map is used.
struct request___io_start {
  u64 io_start_time_ns;
} __attribute__((preserve_access_index));

// The fields of struct request the programs use. They sit in its first 128 bytes on current
// kernels and are taken with one bpf_probe_read_kernel; field by field otherwise.
struct rq_fields {
  struct request_queue* q;
  struct bio* bio;
  u64 io_start_ns; /* 0 when the kernel lacks the field. */
  u32 cmd_flags;
  u32 rq_flags;
  u32 data_len; /* Bytes not completed yet. */
};

#define TM_RQ_HEAD 128
static __always_inline void rq_read(struct request* rq, struct rq_fields* f) {
  const bool has_io_start =
      bpf_core_field_exists(((struct request___io_start*)0)->io_start_time_ns);
  u32 off_q = bpf_core_field_offset(struct request, q);
  u32 off_bio = bpf_core_field_offset(struct request, bio);
  u32 off_cmd = bpf_core_field_offset(struct request, cmd_flags);
  u32 off_rqf = bpf_core_field_offset(struct request, rq_flags);
  u32 off_len = bpf_core_field_offset(struct request, __data_len);
  u32 off_io =
      has_io_start ? bpf_core_field_offset(struct request___io_start, io_start_time_ns) : 0;
  if (off_q <= TM_RQ_HEAD - 8 && off_bio <= TM_RQ_HEAD - 8 && off_io <= TM_RQ_HEAD - 8 &&
      off_cmd <= TM_RQ_HEAD - 4 && off_rqf <= TM_RQ_HEAD - 4 && off_len <= TM_RQ_HEAD - 4) {
    u8 buf[TM_RQ_HEAD];
    if (bpf_probe_read_kernel(buf, sizeof(buf), rq) == 0) {
      __builtin_memcpy(&f->q, buf + off_q, 8);
      __builtin_memcpy(&f->bio, buf + off_bio, 8);
      f->io_start_ns = 0;
      if (has_io_start) __builtin_memcpy(&f->io_start_ns, buf + off_io, 8);
      __builtin_memcpy(&f->cmd_flags, buf + off_cmd, 4);
      __builtin_memcpy(&f->rq_flags, buf + off_rqf, 4);
      __builtin_memcpy(&f->data_len, buf + off_len, 4);
      return;
    }
  }
  f->q = BPF_CORE_READ(rq, q);
  f->bio = BPF_CORE_READ(rq, bio);
  f->io_start_ns =
      has_io_start ? BPF_CORE_READ((struct request___io_start*)rq, io_start_time_ns) : 0;
  f->cmd_flags = BPF_CORE_READ(rq, cmd_flags);
  f->rq_flags = BPF_CORE_READ(rq, rq_flags);
  f->data_len = BPF_CORE_READ(rq, __data_len);
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

// REQ_OP_DRV_IN: passthrough requests (>= 34) are never stamped by the kernel.
#define TM_REQ_OP_DRV_IN 34

SEC("raw_tp/block_rq_issue")
int tm_block_rq_issue(struct bpf_raw_tracepoint_args* ctx) {
  struct request* rq = (struct request*)(targ_single ? ctx->args[0] : ctx->args[1]);
  if (targ_queue_stats_bit >= 0 && targ_rqf_stats_bit >= 0) {
    struct request_queue* q;
    u32 cmd_flags;
    u32 off_q = bpf_core_field_offset(struct request, q);
    u32 off_cmd = bpf_core_field_offset(struct request, cmd_flags);
    u8 buf[32];
    if (off_q <= sizeof(buf) - 8 && off_cmd <= sizeof(buf) - 4 &&
        bpf_probe_read_kernel(buf, sizeof(buf), rq) == 0) {
      __builtin_memcpy(&q, buf + off_q, 8);
      __builtin_memcpy(&cmd_flags, buf + off_cmd, 4);
    } else {
      q = BPF_CORE_READ(rq, q);
      cmd_flags = BPF_CORE_READ(rq, cmd_flags);
    }
    // blk_mq_start_request() stamps rq->io_start_time_ns right after this tracepoint when the
    // queue keeps statistics; the completion reads it.
    unsigned long queue_flags = BPF_CORE_READ(q, queue_flags);
    if ((queue_flags >> (targ_queue_stats_bit & 63)) & 1 && (cmd_flags & 0xff) < TM_REQ_OP_DRV_IN) {
      return 0;
    }
  }
  u64 key = (u64)rq;
  u64 ts = bpf_ktime_get_ns();
  if (bpf_map_update_elem(&bio_start, &key, &ts, BPF_ANY) != 0) count_lost();
  return 0;
}

// TP_PROTO(struct request *rq, blk_status_t error, unsigned int nr_bytes) (5.11+; before, the
// request_queue came first). A request completed in parts fires once per part: only the last
// (nr_bytes covering what is left) counts.
SEC("raw_tp/block_rq_complete")
int tm_block_rq_complete(struct bpf_raw_tracepoint_args* ctx) {
  struct request* rq = (struct request*)(targ_single ? ctx->args[0] : ctx->args[1]);
  u32 nr_bytes = (u32)ctx->args[2];
  struct rq_fields f;
  rq_read(rq, &f);
  if (nr_bytes < f.data_len) return 0;
  u64 start;
  if (targ_rqf_stats_bit >= 0 && (f.rq_flags >> (targ_rqf_stats_bit & 31)) & 1 && f.io_start_ns) {
    start = f.io_start_ns;
  } else {
    u64 key = (u64)rq;
    u64* ts = bpf_map_lookup_elem(&bio_start, &key);
    if (!ts) return 0; /* Issued before we attached. */
    start = *ts;
    bpf_map_delete_elem(&bio_start, &key);
  }
  u64 now = bpf_ktime_get_ns();
  u64 delta_ns = now > start ? now - start : 0;
  struct tm_bio_key key = {};
  u32 zero = 0;
  struct last_seen* last = bpf_map_lookup_elem(&bio_last, &zero);
  key.cgroup_id = bio_cgroup_id(f.bio, last);
  if (last && last->q == f.q && f.q) {
    key.dev = last->dev;
  } else {
    key.dev = disk_dev(rq, f.q);
    if (last) {
      last->q = f.q;
      last->dev = key.dev;
    }
  }
  key.op = f.cmd_flags & 0xff; /* REQ_OP_MASK */
  add(&key, tm_log2_slot(delta_ns / 1000, TM_BIO_SLOTS - 1), delta_ns);
  return 0;
}
