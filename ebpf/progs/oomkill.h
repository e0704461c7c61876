/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* ABI between oomkill.bpf.c and ebpf/oom_reader.cc: fixed-width types only. */
#ifndef __OOMKILL_H
#define __OOMKILL_H

#define TM_OOM_COMM_LEN 16

/* One OOM victim, as marked by the kernel (tracepoint oom/mark_victim). */
struct tm_oom_event {
  __u64 memcg_id;      /* Cgroup id of the victim's memory cgroup (v1 memory or v2), 0 unknown. */
  __u64 dfl_cgroup_id; /* Cgroup id of the victim's v2 (default hierarchy) cgroup. */
  __u64 memcg_usage_pages; /* memory.usage of the memcg when marked, pages. */
  __u64 memcg_limit_pages; /* memory.max / limit_in_bytes of the memcg, pages. */
  __u64 total_vm_pages;
  __u64 anon_rss_pages;
  __u64 file_rss_pages;
  __u64 shmem_rss_pages;
  __u64 ktime_ns; /* bpf_ktime_get_ns() at the event. */
  __u32 pid;      /* Thread group id of the victim. */
  __u32 uid;
  __u32 flags; /* TM_OOM_F_*. */
  __u32 pad;
  char comm[TM_OOM_COMM_LEN];
};

/* Set when only the pid was known (kernels before ~6.8 pass `int pid` to mark_victim). */
#define TM_OOM_F_PID_ONLY 1u

/* Index of the lost-event counter in the `oom_stats` array. */
#define TM_OOM_STAT_LOST 0
#define TM_OOM_STAT_MAX 1

#endif /* __OOMKILL_H */
