#include "ebpf/internal/bpf_util.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace tidemark::ebpf::internal {
namespace {

int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof(buf), format, args);
  std::string_view msg(buf, n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1));
  while (!msg.empty() && msg.back() == '\n') msg.remove_suffix(1);
  spdlog::debug("libbpf: {}", msg);
  return n;
}

}  // namespace

void QuietLibbpfLogs() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(LibbpfPrint); });
}

int RawTracepointArgCount(std::string_view name) {
  struct btf* btf = btf__load_vmlinux_btf();
  if (btf == nullptr) return -1;
  std::string tname = "btf_trace_" + std::string(name);
  int id = btf__find_by_name_kind(btf, tname.c_str(), BTF_KIND_TYPEDEF);
  int count = -1;
  if (id > 0) {
    const struct btf_type* t = btf__type_by_id(btf, id);  // typedef -> ptr -> func_proto
    if (t != nullptr) t = btf__type_by_id(btf, t->type);
    if (t != nullptr && btf_is_ptr(t)) t = btf__type_by_id(btf, t->type);
    if (t != nullptr && btf_is_func_proto(t)) count = btf_vlen(t) - 1;  // minus `void *__data`
  }
  btf__free(btf);
  return count;
}

int64_t KernelEnumValue(std::string_view name) {
  struct btf* btf = btf__load_vmlinux_btf();
  if (btf == nullptr) return -1;
  int64_t value = -1;
  const uint32_t n = btf__type_cnt(btf);
  for (uint32_t id = 1; id < n && value < 0; ++id) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    if (btf_is_enum(t)) {
      const struct btf_enum* e = btf_enum(t);
      for (uint16_t i = 0; i < btf_vlen(t); ++i) {
        if (name == btf__name_by_offset(btf, e[i].name_off)) value = e[i].val;
      }
    } else if (btf_is_enum64(t)) {
      const struct btf_enum64* e = btf_enum64(t);
      for (uint16_t i = 0; i < btf_vlen(t); ++i) {
        if (name == btf__name_by_offset(btf, e[i].name_off)) {
          value = static_cast<int64_t>(btf_enum64_value(&e[i]));
        }
      }
    }
  }
  btf__free(btf);
  return value;
}

Status LibbpfError(std::string_view what, int err) {
  if (err > 0) err = -err;
  std::string msg = std::string(what) + ": " + std::strerror(-err);
  if (err == -EPERM || err == -EACCES) {
    msg += " (needs root or CAP_BPF+CAP_PERFMON)";
  }
  return Status::Unavailable(msg);
}

Status LookupAll(int fd, size_t key_size, size_t value_size, std::vector<char>* keys,
                 std::vector<char>* values) {
  // The buffers keep their capacity between calls (callers keep them), and the first chunk is as
  // large as the last result, so a steady map is read in one call without reallocating.
  const size_t last = key_size == 0 ? 0 : keys->capacity() / key_size;
  keys->clear();
  values->clear();
  static std::atomic<bool> batch_unsupported{false};
  if (!batch_unsupported) {
    uint32_t chunk = static_cast<uint32_t>(std::max<size_t>(1024, last));
    alignas(8) char in_batch[64], out_batch[64];
    bool first = true;
    size_t n = 0;
    for (;;) {
      keys->resize((n + chunk) * key_size);
      values->resize((n + chunk) * value_size);
      uint32_t count = chunk;
      LIBBPF_OPTS(bpf_map_batch_opts, opts);
      int err = bpf_map_lookup_batch(fd, first ? nullptr : in_batch, out_batch,
                                     keys->data() + n * key_size, values->data() + n * value_size,
                                     &count, &opts);
      if (err < 0) err = -errno;
      if (err == 0 || err == -ENOENT) n += count;
      if (err == -ENOENT) break;  // Done.
      if (err == -ENOSPC && count == 0) {
        chunk *= 2;  // One hash bucket holds more entries than the chunk.
        continue;
      }
      if (err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP) {
        if (first) {
          batch_unsupported = true;  // Kernel before 5.6: per-key fallback below.
          break;
        }
      }
      if (err != 0) {
        keys->resize(n * key_size);
        values->resize(n * value_size);
        return Status::IoError(std::string("bpf_map_lookup_batch: ") + std::strerror(-err));
      }
      std::memcpy(in_batch, out_batch, sizeof(in_batch));
      first = false;
    }
    if (!batch_unsupported) {
      keys->resize(n * key_size);
      values->resize(n * value_size);
      return Status::Ok();
    }
  }
  keys->clear();
  values->clear();
  std::vector<char> key(key_size), next(key_size), value(value_size);
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    if (bpf_map_lookup_elem(fd, next.data(), value.data()) == 0) {
      keys->insert(keys->end(), next.begin(), next.end());
      values->insert(values->end(), value.begin(), value.end());
    }
    key.swap(next);
    prev = key.data();
  }
  return Status::Ok();
}

Status DeleteKeys(int fd, size_t key_size, const std::vector<char>& keys, size_t count) {
  if (count == 0) return Status::Ok();
  uint32_t n = static_cast<uint32_t>(count);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  if (bpf_map_delete_batch(fd, keys.data(), &n, &opts) == 0) return Status::Ok();
  // ENOENT stops a batch at the first missing key; finish one by one.
  for (size_t i = 0; i < count; ++i) {
    if (bpf_map_delete_elem(fd, keys.data() + i * key_size) != 0 && errno != ENOENT) {
      return Status::IoError(std::string("bpf_map_delete_elem: ") + std::strerror(errno));
    }
  }
  return Status::Ok();
}

uint64_t ReadArrayU64(int fd, uint32_t index) {
  uint64_t v = 0;
  if (bpf_map_lookup_elem(fd, &index, &v) != 0) return 0;
  return v;
}

}  // namespace tidemark::ebpf::internal
