#include "alerting/outbox.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <nlohmann/json.hpp>
#include <set>

#include "common/logging.h"

namespace tidemark::alerting {

struct Outbox::Lane {
  std::string key;
  std::thread thread;
};

namespace {

// Entries of one receiver URL are delivered by one thread, oldest first.
std::string LaneKey(const OutboxEntry& e) { return e.receiver + '\x1f' + e.url; }

constexpr char kEntryPrefix = 'e';

std::string SeqKey(uint64_t seq) {
  std::string k(9, '\0');
  k[0] = kEntryPrefix;
  for (int i = 0; i < 8; ++i) k[1 + i] = static_cast<char>((seq >> (56 - 8 * i)) & 0xff);
  return k;
}

uint64_t KeySeq(std::string_view k) {
  uint64_t seq = 0;
  for (int i = 0; i < 8; ++i) seq = (seq << 8) | static_cast<unsigned char>(k[1 + i]);
  return seq;
}

std::string Encode(const OutboxEntry& e) {
  nlohmann::json j = {{"k", e.key},          {"r", e.receiver},       {"u", e.url},
                      {"b", e.body},         {"c", e.created_ms},     {"a", e.attempts},
                      {"err", e.last_error}, {"i", e.idempotency_key}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool Decode(std::string_view s, OutboxEntry* e) {
  nlohmann::json j = nlohmann::json::parse(s, nullptr, false);
  if (!j.is_object()) return false;
  try {
    e->key = j.at("k").get<std::string>();
    e->receiver = j.at("r").get<std::string>();
    e->url = j.at("u").get<std::string>();
    e->body = j.at("b").get<std::string>();
    e->created_ms = j.at("c").get<int64_t>();
    e->attempts = j.at("a").get<uint32_t>();
    e->last_error = j.value("err", "");
    e->idempotency_key = j.value("i", "");
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<Outbox>> Outbox::Open(OutboxOptions options, const Clock& clock,
                                             OutboxDeliverer deliver) {
  if (options.dir.empty()) return Status::InvalidArgument("outbox: directory not set");
  if (options.max_entries == 0) return Status::InvalidArgument("outbox.max_entries: must be > 0");
  std::unique_ptr<Outbox> box(new Outbox(std::move(options), clock, std::move(deliver)));
  rocksdb::Options dbo;
  dbo.create_if_missing = true;
  dbo.max_open_files = 64;
  dbo.keep_log_file_num = 2;
  dbo.write_buffer_size = 4 << 20;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(dbo, box->options_.dir, &raw);
  if (!s.ok()) {
    return Status::IoError("alerting outbox " + box->options_.dir + ": " + s.ToString());
  }
  box->db_.reset(raw);
  int64_t now = box->NowMs();
  std::unique_ptr<rocksdb::Iterator> it(box->db_->NewIterator(rocksdb::ReadOptions()));
  size_t corrupt = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (k.size() != 9 || k[0] != kEntryPrefix) continue;
    OutboxEntry e;
    uint64_t seq = KeySeq(std::string_view(k.data(), k.size()));
    if (!Decode(std::string_view(it->value().data(), it->value().size()), &e)) {
      ++corrupt;
      box->db_->Delete(rocksdb::WriteOptions(), k).PermitUncheckedError();
      continue;
    }
    e.next_attempt_ms = now;  // Reloaded entries are tried at once.
    box->by_key_[e.key] = seq;
    box->stats_[e.receiver].pending++;
    box->entries_.emplace(seq, std::move(e));
    box->next_seq_ = std::max(box->next_seq_, seq + 1);
  }
  if (!it->status().ok()) {
    return Status::IoError("alerting outbox " + box->options_.dir + ": " + it->status().ToString());
  }
  if (corrupt > 0) {
    spdlog::warn("alerting outbox {}: dropped {} undecodable entries", box->options_.dir, corrupt);
  }
  if (!box->entries_.empty()) {
    spdlog::info("alerting outbox {}: {} pending notifications reloaded", box->options_.dir,
                 box->entries_.size());
  }
  return box;
}

Outbox::Outbox(OutboxOptions options, const Clock& clock, OutboxDeliverer deliver)
    : options_(std::move(options)), clock_(clock), deliver_(std::move(deliver)) {}

Outbox::~Outbox() { Stop(); }

int64_t Outbox::NowMs() const { return ToUnixMillis(clock_.Now()); }

Status Outbox::Persist(uint64_t seq, const OutboxEntry& e) {
  rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), SeqKey(seq), Encode(e));
  if (!s.ok()) return Status::IoError("alerting outbox " + options_.dir + ": " + s.ToString());
  return Status::Ok();
}

void Outbox::Erase(uint64_t seq) {
  auto it = entries_.find(seq);
  if (it == entries_.end()) return;
  auto k = by_key_.find(it->second.key);
  if (k != by_key_.end() && k->second == seq) by_key_.erase(k);
  OutboxReceiverStats& st = stats_[it->second.receiver];
  if (st.pending > 0) st.pending--;
  entries_.erase(it);
  rocksdb::Status s = db_->Delete(rocksdb::WriteOptions(), SeqKey(seq));
  if (!s.ok()) spdlog::warn("alerting outbox {}: delete failed: {}", options_.dir, s.ToString());
}

void Outbox::DropLocked(uint64_t seq, const std::string& why) {
  auto it = entries_.find(seq);
  if (it == entries_.end()) return;
  OutboxReceiverStats& st = stats_[it->second.receiver];
  st.dropped++;
  st.last_error = why;
  st.last_error_ms = NowMs();
  spdlog::warn("alerting: dropped notification {} for receiver {}: {}", it->second.key,
               it->second.receiver, why);
  Erase(seq);
}

Status Outbox::Enqueue(OutboxEntry entry) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now = NowMs();
  if (entry.created_ms == 0) entry.created_ms = now;
  entry.next_attempt_ms = now;
  entry.attempts = 0;
  uint64_t seq = next_seq_++;
  TIDEMARK_RETURN_IF_ERROR(Persist(seq, entry));
  auto old = by_key_.find(entry.key);
  if (old != by_key_.end()) Erase(old->second);  // Superseded by the newer state.
  while (entries_.size() >= options_.max_entries) {
    DropLocked(entries_.begin()->first, "outbox full (max_entries " +
                                            std::to_string(options_.max_entries) +
                                            "), oldest notification dropped");
  }
  by_key_[entry.key] = seq;
  stats_[entry.receiver].pending++;
  if (running_) EnsureLaneLocked(LaneKey(entry));
  entries_.emplace(seq, std::move(entry));
  cv_.notify_all();
  return Status::Ok();
}

std::chrono::milliseconds Outbox::Backoff(uint32_t attempts) {
  int64_t d = options_.initial_backoff.count();
  for (uint32_t i = 1; i < attempts && d < options_.max_backoff.count(); ++i) d *= 2;
  d = std::min<int64_t>(d, options_.max_backoff.count());
  if (options_.jitter > 0) {
    std::uniform_real_distribution<double> u(0.0, options_.jitter);
    d = static_cast<int64_t>(static_cast<double>(d) * (1.0 - u(rng_)));
  }
  return std::chrono::milliseconds(std::max<int64_t>(d, 1));
}

bool Outbox::PickLocked(const std::string& lane, uint64_t* seq, int64_t* next_ms) {
  int64_t now = NowMs();
  *next_ms = INT64_MAX;
  std::vector<uint64_t> expired;
  bool found = false;
  int64_t best = INT64_MAX;
  for (const auto& [s, e] : entries_) {
    std::string key = LaneKey(e);
    if (!lane.empty() && key != lane) continue;
    if (now - e.created_ms > options_.max_age.count()) {
      expired.push_back(s);
      continue;
    }
    int64_t due = e.next_attempt_ms;
    if (due != INT64_MAX) {
      auto b = blocked_until_.find(key);
      if (b != blocked_until_.end()) due = std::max(due, b->second);
    }
    if (due <= now) {
      if (due < best) {
        best = due;
        *seq = s;
        found = true;
      }
    } else {
      *next_ms = std::min(*next_ms, due);
    }
  }
  for (uint64_t s : expired) {
    DropLocked(s, "undelivered for longer than max_age " +
                      std::to_string(options_.max_age.count() / 1000) + "s");
  }
  return found;
}

void Outbox::Attempt(uint64_t seq, std::unique_lock<std::mutex>& lock) {
  OutboxEntry copy = entries_.at(seq);
  // Not due again until this attempt has finished.
  entries_.at(seq).next_attempt_ms = INT64_MAX;
  lock.unlock();
  DeliveryResult r = deliver_(copy);
  lock.lock();
  auto it = entries_.find(seq);
  OutboxReceiverStats& st = stats_[copy.receiver];
  if (r.outcome == DeliveryOutcome::kDelivered) {
    blocked_until_.erase(LaneKey(copy));  // The receiver is back: the rest may go at once.
    st.sent++;
    Erase(seq);  // A no-op when it was superseded or dropped meanwhile.
    return;
  }
  st.failed++;
  st.last_error = r.error;
  st.last_error_ms = NowMs();
  if (it == entries_.end()) return;
  if (r.outcome == DeliveryOutcome::kDrop) {
    st.failed--;  // Counted as dropped instead.
    DropLocked(seq, r.error + " (not retried)");
    return;
  }
  OutboxEntry& e = it->second;
  e.attempts++;
  e.last_error = r.error;
  e.next_attempt_ms = NowMs() + Backoff(e.attempts).count();
  blocked_until_[LaneKey(e)] = e.next_attempt_ms;
  if (e.attempts == 1 || (e.attempts & (e.attempts - 1)) == 0) {
    spdlog::warn("alerting: delivery to receiver {} failed (attempt {}), retrying in {} ms: {}",
                 e.receiver, e.attempts, e.next_attempt_ms - NowMs(), r.error);
  }
  Persist(seq, e).PermitUncheckedError();  // Only the attempt count is lost if this fails.
}

size_t Outbox::ProcessDue() {
  std::unique_lock<std::mutex> lock(mu_);
  size_t n = 0;
  uint64_t seq = 0;
  int64_t next = 0;
  while (PickLocked("", &seq, &next)) {
    Attempt(seq, lock);
    ++n;
  }
  return n;
}

void Outbox::EnsureLaneLocked(const std::string& key) {
  if (lanes_.count(key) > 0) return;
  auto lane = std::make_unique<Lane>();
  lane->key = key;
  Lane* raw = lane.get();
  lanes_[key] = std::move(lane);
  raw->thread =
      std::thread([this, raw] { RunGuarded("alerting outbox", [this, raw] { LaneLoop(raw); }); });
}

void Outbox::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) return;
  running_ = true;
  std::set<std::string> keys;
  for (const auto& [s, e] : entries_) keys.insert(LaneKey(e));
  for (const std::string& k : keys) EnsureLaneLocked(k);
}

void Outbox::Stop() {
  std::map<std::string, std::unique_ptr<Lane>> lanes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
    lanes.swap(lanes_);
    cv_.notify_all();
  }
  for (auto& [name, lane] : lanes) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

void Outbox::LaneLoop(Lane* lane) {
  std::unique_lock<std::mutex> lock(mu_);
  while (running_) {
    uint64_t seq = 0;
    int64_t next = 0;
    if (PickLocked(lane->key, &seq, &next)) {
      Attempt(seq, lock);
      continue;
    }
    // The clock may be a fake one: wake at least once a second to look again.
    int64_t wait_ms = next == INT64_MAX ? 1000 : std::clamp<int64_t>(next - NowMs(), 1, 1000);
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms));
  }
}

size_t Outbox::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::map<std::string, OutboxReceiverStats> Outbox::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::vector<OutboxEntry> Outbox::Pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<OutboxEntry> out;
  for (const auto& [s, e] : entries_) out.push_back(e);
  return out;
}

}  // namespace tidemark::alerting
