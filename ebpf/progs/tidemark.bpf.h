// SPDX-License-Identifier: GPL-2.0
// Kernel-side helpers shared by tidemark's BPF programs: cgroup ids via CO-RE and log2 slots.
#ifndef __TIDEMARK_BPF_H
#define __TIDEMARK_BPF_H

// vmlinux.h defines the types the libbpf headers use.
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
// clang-format on

// Before 5.5 kernfs_node::id was `union kernfs_node_id { struct { u32 ino; u32 generation; };
// u64 id; }` (commit 67c0496e87d1 "kernfs: convert kernfs_node->id from union kernfs_node_id to
// u64"); the u64 is at the same offset in both layouts.
union kernfs_node_id___old {
  struct {
    u32 ino;
    u32 generation;
  };
  u64 id;
} __attribute__((preserve_access_index));

struct kernfs_node___old {
  union kernfs_node_id___old id;
} __attribute__((preserve_access_index));

// The id user space sees as the inode number of the cgroup's directory; 0 for a NULL cgroup.
static __always_inline u64 tm_cgroup_id(struct cgroup* cgrp) {
  if (!cgrp) return 0;
  struct kernfs_node* kn = BPF_CORE_READ(cgrp, kn);
  if (!kn) return 0;
  if (bpf_core_type_exists(union kernfs_node_id___old)) {
    struct kernfs_node___old* old = (void*)kn;
    return BPF_CORE_READ(old, id.id);
  }
  return BPF_CORE_READ(kn, id);
}

// Floor log2 of v > 0 by binary search (BPF has no count-leading-zeros instruction).
static __always_inline u32 tm_log2_floor(u64 v) {
  u32 r = 0, shift;
  shift = (v > 0xffffffffULL) << 5;
  v >>= shift;
  r |= shift;
  shift = (v > 0xffff) << 4;
  v >>= shift;
  r |= shift;
  shift = (v > 0xff) << 3;
  v >>= shift;
  r |= shift;
  shift = (v > 0xf) << 2;
  v >>= shift;
  r |= shift;
  shift = (v > 0x3) << 1;
  v >>= shift;
  r |= shift;
  r |= (v >> 1);
  return r;
}

// Ceil-log2 slot of `v` (µs): slot 0 holds v <= 1, slot k holds (2^(k-1), 2^k], clamped to `max`.
static __always_inline u32 tm_log2_slot(u64 v, u32 max) {
  u32 slot = v <= 1 ? 0 : tm_log2_floor(v - 1) + 1;
  return slot > max ? max : slot;
}

#endif  // __TIDEMARK_BPF_H
