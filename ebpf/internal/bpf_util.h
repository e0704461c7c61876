// libbpf plumbing shared by the readers: skeleton ownership, BTF probes, batched map reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct bpf_map;

namespace tidemark::ebpf::internal {

// Routes libbpf's own messages to spdlog at debug level (once per process), so a failed load is
// one clear line from the reader, not libbpf's verifier dump.
void QuietLibbpfLogs();

// Owns a bpftool-generated skeleton: destroy() (detach, unload, free) on destruction.
template <typename Skel>
struct SkelDeleter {
  void operator()(Skel* s) const { Skel::destroy(s); }
};
template <typename Skel>
using SkelPtr = std::unique_ptr<Skel, SkelDeleter<Skel>>;

// Number of TP_PROTO arguments of raw tracepoint `name` from kernel BTF (btf_trace_<name>), or -1
// when the kernel has no BTF or no such tracepoint.
int RawTracepointArgCount(std::string_view name);
// Value of the enumerator `name` (of any enum, named or anonymous) in kernel BTF, or -1 when the
// kernel has no BTF or no such enumerator.
int64_t KernelEnumValue(std::string_view name);

// An error Status for a libbpf call that returned `err` (negative errno), with a hint for EPERM.
Status LibbpfError(std::string_view what, int err);

// Reads every entry of the map `fd` with BPF_MAP_LOOKUP_BATCH (5.6+), falling back to
// get_next_key + lookup per key. `keys`/`values` receive key_size/value_size-byte records.
Status LookupAll(int fd, size_t key_size, size_t value_size, std::vector<char>* keys,
                 std::vector<char>* values);
// Deletes `count` keys of key_size bytes (BPF_MAP_DELETE_BATCH, else one by one); missing keys are
// not an error.
Status DeleteKeys(int fd, size_t key_size, const std::vector<char>& keys, size_t count);

// Typed front ends of the two above.
template <typename K, typename V>
Status LookupAll(int fd, std::vector<K>* keys, std::vector<V>* values) {
  std::vector<char> k, v;
  Status st = LookupAll(fd, sizeof(K), sizeof(V), &k, &v);
  size_t n = k.size() / sizeof(K);
  keys->resize(n);
  values->resize(n);
  if (n > 0) {
    std::memcpy(keys->data(), k.data(), n * sizeof(K));
    std::memcpy(values->data(), v.data(), n * sizeof(V));
  }
  return st;
}
template <typename K>
Status DeleteKeys(int fd, const std::vector<K>& keys) {
  std::vector<char> k(keys.size() * sizeof(K));
  if (!keys.empty()) std::memcpy(k.data(), keys.data(), k.size());
  return DeleteKeys(fd, sizeof(K), k, keys.size());
}

// Record `i` of a buffer LookupAll() filled with T-sized records (copied: the buffer is unaligned).
template <typename T>
T RecordAt(const std::vector<char>& buf, size_t i) {
  T out;
  std::memcpy(&out, buf.data() + i * sizeof(T), sizeof(T));
  return out;
}

// Reads u64 slot `index` of the ARRAY map `fd`; 0 on failure.
uint64_t ReadArrayU64(int fd, uint32_t index);

}  // namespace tidemark::ebpf::internal
