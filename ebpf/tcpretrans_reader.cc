#include "ebpf/tcpretrans_reader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "ebpf/internal/bpf_util.h"
#include "ebpf/internal/row_grouping.h"
#include "ebpf/progs/tcpretrans.h"
#include "tcpretrans.skel.h"

namespace tidemark::ebpf {
namespace {

std::string FormatPeer(const tm_peer_key& k) {
  char addr[INET6_ADDRSTRLEN] = "?";
  if (k.family == AF_INET6) {
    ::inet_ntop(AF_INET6, k.daddr, addr, sizeof(addr));
    return "[" + std::string(addr) + "]:" + std::to_string(k.dport);
  }
  ::inet_ntop(AF_INET, k.daddr, addr, sizeof(addr));
  return std::string(addr) + ":" + std::to_string(k.dport);
}

}  // namespace

TcpRetransReader::TcpRetransReader(CgroupResolver* resolver, const Clock& clock,
                                   TcpRetransReaderOptions options)
    : resolver_(resolver),
      clock_(clock),
      options_(options),
      resolved_(std::make_unique<internal::CycleResolver>(resolver, CgroupHierarchy::kUnified)) {}

TcpRetransReader::~TcpRetransReader() {
  if (skel_ != nullptr) tcpretrans_bpf::destroy(skel_);
}

Result<std::unique_ptr<TcpRetransReader>> TcpRetransReader::Create(
    CgroupResolver* resolver, const Clock& clock, TcpRetransReaderOptions options) {
  internal::QuietLibbpfLogs();
  std::unique_ptr<TcpRetransReader> r(new TcpRetransReader(resolver, clock, options));
  r->skel_ = tcpretrans_bpf::open();
  if (r->skel_ == nullptr) return internal::LibbpfError("tcpretrans: open", -errno);
  r->skel_->rodata->targ_has_err = internal::RawTracepointArgCount("tcp_retransmit_skb") >= 3;
  if (int err = tcpretrans_bpf::load(r->skel_); err != 0) {
    return internal::LibbpfError("tcpretrans: load raw_tp/tcp_retransmit_skb", err);
  }
  if (int err = tcpretrans_bpf::attach(r->skel_); err != 0) {
    return internal::LibbpfError("tcpretrans: attach raw_tp/tcp_retransmit_skb", err);
  }
  return r;
}

Status TcpRetransReader::ReadMaps() {
  resolved_->Start(clock_.MonotonicNow());
  const int fd = bpf_map__fd(skel_->maps.retrans_by_cgroup);
  const int peer_fd = bpf_map__fd(skel_->maps.retrans_by_peer);
  Status st =
      internal::LookupAll(fd, sizeof(tm_retrans_key), sizeof(tm_retrans_val), &keys_, &values_);
  if (!st.ok()) return st;
  st = internal::LookupAll(peer_fd, sizeof(tm_peer_key), sizeof(tm_retrans_val), &peer_keys_,
                           &peer_values_);
  if (!st.ok()) return st;

  counts_.clear();
  count_labels_.clear();
  std::vector<tm_retrans_key> dead;
  const size_t n = keys_.size() / sizeof(tm_retrans_key);
  for (size_t i = 0; i < n; ++i) {
    const auto k = internal::RecordAt<tm_retrans_key>(keys_, i);
    const internal::CycleResolver::Entry& r = resolved_->Get(k.cgroup_id);
    if (r.gone) {
      dead.push_back(k);
      continue;
    }
    const auto v = internal::RecordAt<tm_retrans_val>(values_, i);
    counts_.push_back({k.cgroup_id, k.netns_ino, v.segs, v.events});
    count_labels_.push_back(r.labels);
  }
  peers_.clear();
  std::vector<tm_peer_key> dead_peers;
  const size_t np = peer_keys_.size() / sizeof(tm_peer_key);
  for (size_t i = 0; i < np; ++i) {
    const auto k = internal::RecordAt<tm_peer_key>(peer_keys_, i);
    if (resolved_->Get(k.cgroup_id).gone) {
      dead_peers.push_back(k);
      continue;
    }
    peers_.push_back(
        {k.cgroup_id, FormatPeer(k), internal::RecordAt<tm_retrans_val>(peer_values_, i).segs});
  }
  st = internal::DeleteKeys(fd, dead);
  if (!st.ok()) return st;
  swept_ += dead.size();
  st = internal::DeleteKeys(peer_fd, dead_peers);
  if (st.ok()) swept_ += dead_peers.size();
  return st;
}

Status TcpRetransReader::Collect(SampleBatch* batch) {
  Status st = ReadMaps();
  if (!st.ok()) return st;
  // Sum per container: one container may own several cgroups (nested) or network namespaces.
  internal::ContainerSlots containers;
  std::vector<uint64_t> segs;
  std::unordered_map<uint64_t, size_t> slot_of_cgroup;
  for (size_t i = 0; i < counts_.size(); ++i) {
    const RetransCount& c = counts_[i];
    LabelSetPtr labels = count_labels_[i];
    if (labels == nullptr && resolver_ != nullptr) labels = resolver_->ResolveNetns(c.netns_ino);
    if (labels == nullptr) continue;
    const size_t slot = containers.Slot(labels);
    if (slot >= segs.size()) segs.resize(slot + 1, 0);
    segs[slot] += c.segs;
    slot_of_cgroup[c.cgroup_id] = slot;
  }
  if (containers.size() == 0) return Status::Ok();
  size_t fam =
      batch->Family("container_tcp_retransmits_total",
                    "TCP segments retransmitted by the container's sockets", MetricType::kCounter);
  std::vector<const LabelSet*> base(containers.size());
  for (size_t slot = 0; slot < containers.size(); ++slot) {
    base[slot] = batch->Intern(containers.labels(slot));
    batch->Add(fam, base[slot], static_cast<double>(segs[slot]));
  }
  if (options_.top_peers == 0 || peers_.empty()) return Status::Ok();
  std::vector<std::vector<const RetransPeer*>> peers_by_container(containers.size());
  for (const RetransPeer& p : peers_) {
    auto it = slot_of_cgroup.find(p.cgroup_id);
    if (it != slot_of_cgroup.end()) peers_by_container[it->second].push_back(&p);
  }
  size_t pfam = batch->Family(
      "container_tcp_retransmits_by_peer_total",
      "TCP segments retransmitted by the container's sockets to the remote peers with the most "
      "retransmits (bounded table; a peer may leave it)",
      MetricType::kCounter);
  for (size_t slot = 0; slot < containers.size(); ++slot) {
    std::vector<const RetransPeer*>& list = peers_by_container[slot];
    if (list.empty()) continue;
    std::sort(list.begin(), list.end(),
              [](const RetransPeer* a, const RetransPeer* b) { return a->segs > b->segs; });
    std::map<std::string, uint64_t> merged;  // Same peer from two cgroups of one container.
    for (const RetransPeer* p : list) {
      if (merged.size() >= options_.top_peers && !merged.count(p->peer)) continue;
      merged[p->peer] += p->segs;
    }
    for (const auto& [peer, count] : merged) {
      batch->Add(pfam, base[slot], Labels{{"peer", peer}}, static_cast<double>(count));
    }
  }
  return Status::Ok();
}

uint64_t TcpRetransReader::lost() const {
  return internal::ReadArrayU64(bpf_map__fd(skel_->maps.retrans_stats), TM_RETRANS_STAT_LOST);
}

}  // namespace tidemark::ebpf
