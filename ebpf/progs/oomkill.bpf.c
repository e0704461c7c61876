// SPDX-License-Identifier: GPL-2.0
// OOM victims: one ring-buffer event per task the OOM killer marks (oom/mark_victim).
// vmlinux.h (via tidemark.bpf.h) must come first.
// clang-format off
#include "tidemark.bpf.h"
#include "oomkill.h"
// clang-format on

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 * 1024);
} oom_events SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, TM_OOM_STAT_MAX);
  __type(key, u32);
  __type(value, u64);
} oom_stats SEC(".maps");

// mm_struct::rss_stat became `struct percpu_counter rss_stat[NR_MM_COUNTERS]` in 6.2 (commit
// f1a7941243c1 "mm: convert mm's rss stats into percpu_counter"); before it was
// `struct mm_rss_stat { atomic_long_t count[NR_MM_COUNTERS]; }`.
struct mm_rss_stat___old {
  atomic_long_t count[4];
} __attribute__((preserve_access_index));
struct mm_struct___old {
  struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

static __always_inline u64 rss_pages(struct mm_struct* mm, int member) {
  if (bpf_core_type_exists(struct mm_rss_stat___old)) {
    struct mm_struct___old* old = (void*)mm;
    return BPF_CORE_READ(old, rss_stat.count[member].counter);
  }
  s64 v = BPF_CORE_READ(mm, rss_stat[member].count);
  return v > 0 ? v : 0;
}

static __always_inline void count_lost(void) {
  u32 key = TM_OOM_STAT_LOST;
  u64* lost = bpf_map_lookup_elem(&oom_stats, &key);
  if (lost) __sync_fetch_and_add(lost, 1);
}

// Kernels since ~6.8 (commit 72ba14deb40a "mm: add more info to trace_mark_victim"): the raw
// tracepoint's first argument is the victim's task_struct.
SEC("raw_tp/mark_victim")
int tm_mark_victim_task(struct bpf_raw_tracepoint_args* ctx) {
  struct task_struct* task = (struct task_struct*)ctx->args[0];
  struct tm_oom_event* e = bpf_ringbuf_reserve(&oom_events, sizeof(*e), 0);
  if (!e) {
    count_lost();
    return 0;
  }
  __builtin_memset(e, 0, sizeof(*e));
  e->ktime_ns = bpf_ktime_get_ns();
  e->pid = BPF_CORE_READ(task, tgid);
  e->uid = (u32)ctx->args[1];
  bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &task->comm);
  e->dfl_cgroup_id = tm_cgroup_id(BPF_CORE_READ(task, cgroups, dfl_cgrp));
  if (bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
    int idx = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
    struct cgroup_subsys_state* css = 0;
    if (idx >= 0 && idx < 16) css = BPF_CORE_READ(task, cgroups, subsys[idx]);
    if (css) {
      e->memcg_id = tm_cgroup_id(BPF_CORE_READ(css, cgroup));
      // css is the first member of struct mem_cgroup.
      struct mem_cgroup* memcg = (struct mem_cgroup*)css;
      e->memcg_usage_pages = BPF_CORE_READ(memcg, memory.usage.counter);
      e->memcg_limit_pages = BPF_CORE_READ(memcg, memory.max);
    }
  }
  struct mm_struct* mm = BPF_CORE_READ(task, mm);
  if (mm) {
    e->total_vm_pages = BPF_CORE_READ(mm, total_vm);
    e->file_rss_pages = rss_pages(mm, 0);  /* MM_FILEPAGES */
    e->anon_rss_pages = rss_pages(mm, 1);  /* MM_ANONPAGES */
    e->shmem_rss_pages = rss_pages(mm, 3); /* MM_SHMEMPAGES */
  }
  bpf_ringbuf_submit(e, 0);
  return 0;
}

// Older kernels: TP_PROTO(int pid) only. The reader resolves the pid's cgroup from /proc.
struct mark_victim_args___old {
  u64 common;
  int pid;
};

SEC("tracepoint/oom/mark_victim")
int tm_mark_victim_pid(struct mark_victim_args___old* ctx) {
  struct tm_oom_event* e = bpf_ringbuf_reserve(&oom_events, sizeof(*e), 0);
  if (!e) {
    count_lost();
    return 0;
  }
  __builtin_memset(e, 0, sizeof(*e));
  e->ktime_ns = bpf_ktime_get_ns();
  e->pid = ctx->pid;
  e->flags = TM_OOM_F_PID_ONLY;
  bpf_ringbuf_submit(e, 0);
  return 0;
}
