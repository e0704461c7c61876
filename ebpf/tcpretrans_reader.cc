#include "ebpf/tcpretrans_reader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "ebpf/internal/bpf_util.h"
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
    : resolver_(resolver), clock_(clock), options_(options) {}

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
  const auto seen_at = clock_.MonotonicNow();
  std::vector<tm_retrans_key> keys;
  std::vector<tm_retrans_val> values;
  Status st = internal::LookupAll(bpf_map__fd(skel_->maps.retrans_by_cgroup), &keys, &values);
  if (!st.ok()) return st;
  std::vector<tm_peer_key> peer_keys;
  std::vector<tm_retrans_val> peer_values;
  st = internal::LookupAll(bpf_map__fd(skel_->maps.retrans_by_peer), &peer_keys, &peer_values);
  if (!st.ok()) return st;

  counts_.clear();
  std::vector<tm_retrans_key> dead;
  std::unordered_map<uint64_t, bool> gone;  // cgroup id -> removed
  for (size_t i = 0; i < keys.size(); ++i) {
    const tm_retrans_key& k = keys[i];
    bool removed = false;
    if (k.cgroup_id != 0 && resolver_ != nullptr) {
      removed = !resolver_->Resolve(CgroupHierarchy::kUnified, k.cgroup_id, seen_at).has_value();
    }
    gone[k.cgroup_id] = removed;
    if (removed) {
      dead.push_back(k);
      continue;
    }
    counts_.push_back({k.cgroup_id, k.netns_ino, values[i].segs, values[i].events});
  }
  peers_.clear();
  std::vector<tm_peer_key> dead_peers;
  for (size_t i = 0; i < peer_keys.size(); ++i) {
    auto it = gone.find(peer_keys[i].cgroup_id);
    if (it != gone.end() && it->second) {
      dead_peers.push_back(peer_keys[i]);
      continue;
    }
    peers_.push_back({peer_keys[i].cgroup_id, FormatPeer(peer_keys[i]), peer_values[i].segs});
  }
  st = internal::DeleteKeys(bpf_map__fd(skel_->maps.retrans_by_cgroup), dead);
  if (!st.ok()) return st;
  swept_ += dead.size();
  st = internal::DeleteKeys(bpf_map__fd(skel_->maps.retrans_by_peer), dead_peers);
  if (st.ok()) swept_ += dead_peers.size();
  return st;
}

Status TcpRetransReader::Collect(SampleBatch* batch) {
  Status st = ReadMaps();
  if (!st.ok()) return st;
  const auto now = clock_.MonotonicNow();
  // Sum per container: one container may own several cgroups (nested) or network namespaces.
  std::map<std::string, std::pair<LabelSetPtr, uint64_t>> per_container;
  std::unordered_map<uint64_t, LabelSetPtr> by_cgroup;
  for (const RetransCount& c : counts_) {
    LabelSetPtr labels;
    if (c.cgroup_id != 0 && resolver_ != nullptr) {
      std::optional<CgroupRef> ref =
          resolver_->Resolve(CgroupHierarchy::kUnified, c.cgroup_id, now);
      if (ref) labels = ref->labels;
    }
    if (labels == nullptr && resolver_ != nullptr) labels = resolver_->ResolveNetns(c.netns_ino);
    if (labels == nullptr) continue;
    by_cgroup[c.cgroup_id] = labels;
    auto& slot = per_container[labels->rendered()];
    slot.first = labels;
    slot.second += c.segs;
  }
  size_t fam =
      batch->Family("container_tcp_retransmits_total",
                    "TCP segments retransmitted by the container's sockets", MetricType::kCounter);
  for (const auto& [key, v] : per_container) {
    batch->Add(fam, batch->Intern(v.first), static_cast<double>(v.second));
  }
  if (options_.top_peers == 0 || peers_.empty()) return Status::Ok();
  std::map<std::string, std::vector<const RetransPeer*>> peers_by_container;
  for (const RetransPeer& p : peers_) {
    auto it = by_cgroup.find(p.cgroup_id);
    if (it != by_cgroup.end()) peers_by_container[it->second->rendered()].push_back(&p);
  }
  size_t pfam = batch->Family(
      "container_tcp_retransmits_by_peer_total",
      "TCP segments retransmitted by the container's sockets to the remote peers with the most "
      "retransmits (bounded table; a peer may leave it)",
      MetricType::kCounter);
  for (auto& [key, list] : peers_by_container) {
    std::sort(list.begin(), list.end(),
              [](const RetransPeer* a, const RetransPeer* b) { return a->segs > b->segs; });
    const LabelSet* base = batch->Intern(per_container[key].first);
    std::map<std::string, uint64_t> merged;  // Same peer from two cgroups of one container.
    for (const RetransPeer* p : list) {
      if (merged.size() >= options_.top_peers && !merged.count(p->peer)) continue;
      merged[p->peer] += p->segs;
    }
    for (const auto& [peer, count] : merged) {
      batch->Add(pfam, base, Labels{{"peer", peer}}, static_cast<double>(count));
    }
  }
  return Status::Ok();
}

uint64_t TcpRetransReader::lost() const {
  return internal::ReadArrayU64(bpf_map__fd(skel_->maps.retrans_stats), TM_RETRANS_STAT_LOST);
}

}  // namespace tidemark::ebpf
