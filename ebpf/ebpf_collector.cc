#include "ebpf/ebpf_collector.h"

#include <spdlog/spdlog.h>

namespace tidemark::ebpf {
namespace {

class HubSink final : public OomEventSink {
 public:
  explicit HubSink(std::shared_ptr<OomEventHub> hub) : hub_(std::move(hub)) {}
  void OnOomEvent(const OomEvent& e) override { hub_->Publish(ToAgentOomEvent(e)); }

 private:
  std::shared_ptr<OomEventHub> hub_;
};

}  // namespace

std::unique_ptr<EbpfCollector> EbpfCollector::Create(CgroupResolver* resolver, const Clock& clock,
                                                     HostPaths paths, EbpfOptions options) {
  std::unique_ptr<EbpfCollector> c(new EbpfCollector());
  c->options_ = options;
  std::string failures;
  auto note = [&](const Status& st, std::string* error) {
    *error = st.message();
    failures += (failures.empty() ? "" : "; ") + st.message();
  };
  if (options.oomkill) {
    auto r = OomReader::Create(resolver, clock, paths);
    if (r.ok()) {
      c->oom_ = std::move(*r);
    } else {
      note(r.status(), &c->oom_error_);
    }
  }
  if (options.tcpretrans) {
    TcpRetransReaderOptions o;
    o.top_peers = options.tcp_top_peers;
    auto r = TcpRetransReader::Create(resolver, clock, o);
    if (r.ok()) {
      c->tcp_ = std::move(*r);
    } else {
      note(r.status(), &c->tcp_error_);
    }
  }
  if (options.biolatency) {
    auto r = BioLatencyReader::Create(resolver, clock, paths);
    if (r.ok()) {
      c->bio_ = std::move(*r);
    } else {
      note(r.status(), &c->bio_error_);
    }
  }
  if (!failures.empty()) {
    spdlog::warn(
        "eBPF collectors partly or wholly unavailable ({}); tidemark_ebpf_program_up shows which, "
        "cgroup-file metrics are unaffected",
        failures);
  }
  return c;
}

Result<int> EbpfCollector::PollOom(int timeout_ms) {
  if (oom_ == nullptr) return 0;
  return oom_->Poll(timeout_ms);
}

void EbpfCollector::SubscribeOom(OomEventSink* sink) {
  if (oom_ != nullptr) oom_->Subscribe(sink);
}

void EbpfCollector::PublishOom(std::shared_ptr<OomEventHub> hub) {
  if (oom_ == nullptr || hub == nullptr) return;
  hub_sinks_.push_back(std::make_unique<HubSink>(std::move(hub)));
  oom_->Subscribe(hub_sinks_.back().get());
}

Status EbpfCollector::Collect(SampleBatch* batch) {
  Status first;
  if (oom_ != nullptr && options_.oom_counter) oom_->Collect(batch);
  if (tcp_ != nullptr) {
    Status st = tcp_->Collect(batch);
    if (!st.ok() && first.ok()) first = st;
  }
  if (bio_ != nullptr) {
    Status st = bio_->Collect(batch);
    if (!st.ok() && first.ok()) first = st;
  }
  size_t up = batch->Family("tidemark_ebpf_program_up",
                            "1 when the eBPF program is loaded and attached, 0 when it is enabled "
                            "but could not be loaded",
                            MetricType::kGauge);
  size_t lost = batch->Family("tidemark_ebpf_events_lost_total",
                              "Events the eBPF program could not record (ring buffer or map full)",
                              MetricType::kCounter);
  auto emit = [&](std::string_view name, bool enabled, bool loaded, uint64_t lost_count) {
    if (!enabled) return;
    Labels l{{"program", std::string(name)}};
    batch->Add(up, nullptr, l, loaded ? 1 : 0);
    if (loaded) batch->Add(lost, nullptr, std::move(l), static_cast<double>(lost_count));
  };
  emit(kOomProgram, options_.oomkill, oom_ != nullptr, oom_ ? oom_->lost() : 0);
  emit(kTcpRetransProgram, options_.tcpretrans, tcp_ != nullptr, tcp_ ? tcp_->lost() : 0);
  emit(kBioLatencyProgram, options_.biolatency, bio_ != nullptr, bio_ ? bio_->lost() : 0);
  return first;
}

}  // namespace tidemark::ebpf
