// Helper of bench/ebpf_overhead.py (needs root):
//   ebpf_bench hold              load and attach the biolatency program, print "ready", wait for
//                                stdin to close (the script measures its per-event cost).
//   ebpf_bench map-read N [R]    fill the per-cgroup maps with N cgroups (2 histograms per cgroup,
//                                1 retransmit row, 1 peer) and time one cycle of reading them
//                                (ReadMaps + resolve + emit) R times; prints median and p90 in ms.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "ebpf/biolatency_reader.h"
#include "ebpf/progs/biolatency.h"
#include "ebpf/progs/tcpretrans.h"
#include "ebpf/tcpretrans_reader.h"

namespace {

using tidemark::ebpf::CgroupHierarchy;
using tidemark::ebpf::CgroupRef;

// Every id in [base, base + n) is a live container "/bench/<i>".
class FakeResolver final : public tidemark::ebpf::CgroupResolver {
 public:
  FakeResolver(uint64_t base, size_t n) : base_(base) {
    for (size_t i = 0; i < n; ++i) {
      std::string path = "/bench/" + std::to_string(i);
      refs_.push_back({path, std::make_shared<const tidemark::LabelSet>(
                                 tidemark::Labels{{"id", path}, {"name", std::to_string(i)}})});
    }
  }
  std::optional<CgroupRef> Resolve(CgroupHierarchy, uint64_t id,
                                   std::chrono::steady_clock::time_point) override {
    if (id < base_ || id >= base_ + refs_.size()) return std::nullopt;
    return refs_[id - base_];
  }

 private:
  uint64_t base_;
  std::vector<CgroupRef> refs_;
};

// The fd of this process's BPF map named `name` (the kernel keeps 15 characters).
int OwnMapFd(const std::string& name) {
  DIR* d = ::opendir("/proc/self/fd");
  int found = -1;
  while (struct dirent* e = d ? ::readdir(d) : nullptr) {
    int fd = std::atoi(e->d_name);
    if (fd <= 2) continue;
    bpf_map_info info = {};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && name.compare(0, 15, info.name) == 0) {
      found = fd;
      break;
    }
  }
  if (d) ::closedir(d);
  return found;
}

int Hold() {
  auto r = tidemark::ebpf::BioLatencyReader::Create(nullptr, tidemark::SystemClock::Instance());
  if (!r.ok()) {
    std::cerr << r.status().ToString() << "\n";
    return 1;
  }
  std::cout << "ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}

int MapRead(size_t n, int rounds) {
  const uint64_t base = 1ull << 40;
  FakeResolver resolver(base, n);
  auto& clock = tidemark::SystemClock::Instance();
  auto bio = tidemark::ebpf::BioLatencyReader::Create(&resolver, clock);
  auto tcp = tidemark::ebpf::TcpRetransReader::Create(&resolver, clock);
  if (!bio.ok() || !tcp.ok()) {
    std::cerr << (bio.ok() ? tcp.status() : bio.status()).ToString() << "\n";
    return 1;
  }
  int hist_fd = OwnMapFd("bio_hist"), retrans_fd = OwnMapFd("retrans_by_cgroup"),
      peer_fd = OwnMapFd("retrans_by_peer");
  if (hist_fd < 0 || retrans_fd < 0 || peer_fd < 0) {
    std::cerr << "maps not found\n";
    return 1;
  }
  const int ncpus = libbpf_num_possible_cpus();
  for (size_t i = 0; i < n; ++i) {
    std::vector<tm_bio_hist> h(static_cast<size_t>(ncpus));  // Per-CPU map: one per CPU.
    for (int s = 0; s < TM_BIO_SLOTS; ++s) h[0].slots[s] = s * 3 + i;
    h[0].sum_ns = 123456789;
    for (uint16_t op : {0, 1}) {
      tm_bio_key k = {base + i, (254u << 20) | 0, op, 0};
      if (bpf_map_update_elem(hist_fd, &k, h.data(), BPF_ANY) != 0) return 2;
    }
    tm_retrans_key rk = {base + i, 4026531840u, 0};
    tm_retrans_val rv = {i + 10, i + 5};
    if (bpf_map_update_elem(retrans_fd, &rk, &rv, BPF_ANY) != 0) return 3;
    tm_peer_key pk = {};
    pk.cgroup_id = base + i;
    pk.family = 2;
    pk.dport = 443;
    std::memcpy(pk.daddr, &i, 4);
    if (bpf_map_update_elem(peer_fd, &pk, &rv, BPF_ANY) != 0) return 4;
  }
  // Wall time and this thread's CPU time (user + system, i.e. including the kernel's batch
  // copy): on a shared machine the CPU time is the stable figure.
  auto cpu_now = [] {
    timespec ts;
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
  };
  std::vector<double> read_ms, cycle_ms, read_cpu_ms, cycle_cpu_ms;
  size_t samples = 0;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_now();
    if (!(*bio)->ReadMaps().ok() || !(*tcp)->ReadMaps().ok()) return 5;
    auto t1 = std::chrono::steady_clock::now();
    double c1 = cpu_now();
    tidemark::SampleBatch batch;
    if (!(*bio)->Collect(&batch).ok() || !(*tcp)->Collect(&batch).ok()) return 6;
    auto t2 = std::chrono::steady_clock::now();
    double c2 = cpu_now();
    samples = batch.SampleCount();
    read_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    cycle_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    read_cpu_ms.push_back(c1 - c0);
    cycle_cpu_ms.push_back(c2 - c1);
  }
  auto pct = [](std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(p * (v.size() - 1))];
  };
  std::printf(
      "cgroups %zu: map rows %zu (histograms) + %zu (retransmits) + %zu (peers)\n"
      "  batched map reads (ReadMaps):   CPU median %.3f ms p90 %.3f ms; wall median %.3f ms\n"
      "  full cycle (read+resolve+emit): CPU median %.3f ms p90 %.3f ms; wall median %.3f ms"
      " (%zu samples)\n",
      n, (*bio)->rows().size(), (*tcp)->counts().size(), (*tcp)->peers().size(),
      pct(read_cpu_ms, 0.5), pct(read_cpu_ms, 0.9), pct(read_ms, 0.5), pct(cycle_cpu_ms, 0.5),
      pct(cycle_cpu_ms, 0.9), pct(cycle_ms, 0.5), samples);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "hold") return Hold();
  if (mode == "map-read" && argc > 2) {
    return MapRead(std::strtoul(argv[2], nullptr, 10), argc > 3 ? std::atoi(argv[3]) : 50);
  }
  std::cerr << "usage: ebpf_bench hold | map-read N [ROUNDS]\n";
  return 2;
}
