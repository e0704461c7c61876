// TCP retransmits per socket cgroup (raw tracepoint tcp_retransmit_skb), read once per cycle in
// batches, plus a bounded table of the remote peers retransmitted to.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/sample_batch.h"
#include "common/status.h"
#include "ebpf/cgroup_resolver.h"

struct tcpretrans_bpf;

namespace tidemark::ebpf {
namespace internal {
class CycleResolver;
}  // namespace internal

struct TcpRetransReaderOptions {
  // Peers exported per container (highest counts), as container_tcp_retransmits_by_peer_total.
  size_t top_peers = 5;  // Default: 5; 0 = none
};

// One row of the kernel's per-cgroup table, as read by the last ReadMaps().
struct RetransCount {
  uint64_t cgroup_id = 0;  // v2 cgroup id of the socket; 0 unknown.
  uint32_t netns_ino = 0;
  uint64_t segs = 0;    // Segments retransmitted (the kernel's RetransSegs unit).
  uint64_t events = 0;  // Tracepoint hits (retransmitted skbs, failed attempts included).
};

// One remote peer of a cgroup.
struct RetransPeer {
  uint64_t cgroup_id = 0;
  std::string peer;  // "10.0.0.1:443" or "[::1]:443".
  uint64_t segs = 0;
};

// Loads and attaches the tcpretrans program; destroying it detaches and unloads. Not thread-safe:
// one caller at a time (the collection thread).
class TcpRetransReader {
 public:
  // `resolver` and `clock` must outlive the reader. Unavailable when the program cannot be loaded
  // or attached (reason in the message).
  static Result<std::unique_ptr<TcpRetransReader>> Create(CgroupResolver* resolver,
                                                          const Clock& clock,
                                                          TcpRetransReaderOptions options = {});
  ~TcpRetransReader();
  TcpRetransReader(const TcpRetransReader&) = delete;
  TcpRetransReader& operator=(const TcpRetransReader&) = delete;

  // Reads both maps (BPF_MAP_LOOKUP_BATCH), resolves each cgroup once and deletes the entries of
  // cgroups that no longer exist, so the maps never grow without bound.
  Status ReadMaps();
  // ReadMaps(), then container_tcp_retransmits_total (segments) per container, labelled as the
  // resolver labels it, and the top peers.
  Status Collect(SampleBatch* batch);
  // The per-cgroup rows and peers of the last ReadMaps().
  const std::vector<RetransCount>& counts() const { return counts_; }
  const std::vector<RetransPeer>& peers() const { return peers_; }
  // Map rows (per-cgroup and peer) of removed cgroups deleted so far.
  uint64_t swept() const { return swept_; }
  // Updates the kernel could not store (tables full).
  uint64_t lost() const;

 private:
  TcpRetransReader(CgroupResolver* resolver, const Clock& clock, TcpRetransReaderOptions options);

  CgroupResolver* const resolver_;
  const Clock& clock_;
  const TcpRetransReaderOptions options_;
  tcpretrans_bpf* skel_ = nullptr;
  std::unique_ptr<internal::CycleResolver> resolved_;  // Of the last ReadMaps().
  std::vector<RetransCount> counts_;
  std::vector<RetransPeer> peers_;
  std::vector<LabelSetPtr> count_labels_;  // Per counts_ row; null when not exported.
  // Map read buffers, kept between cycles.
  std::vector<char> keys_, values_, peer_keys_, peer_values_;
  uint64_t swept_ = 0;
};

}  // namespace tidemark::ebpf
