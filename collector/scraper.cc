#include "collector/scraper.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "common/logging.h"

namespace tidemark::collector {

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

}  // namespace

Scraper::Scraper(const Clock& clock, ScrapeStore& store, ScrapeFetcher& fetcher,
                 ScraperOptions options)
    : clock_(clock),
      store_(store),
      fetcher_(fetcher),
      options_(options),
      warn_limiter_(clock, std::chrono::minutes(1)) {}

Scraper::~Scraper() { Stop(); }

int64_t Scraper::NowMs() const { return ToUnixMillis(clock_.Now()); }

void Scraper::ScheduleEndOfRun(Loop& loop, int64_t now_ms) {
  const int64_t iv = loop.scraper.target().options.interval.count();
  loop.stale_ts_ms =
      NextScrapeSlotMs(now_ms, loop.offset_ms, loop.scraper.target().options.interval);
  loop.stale_due_ms = loop.stale_ts_ms + iv + iv / 10;
}

void Scraper::SetTargets(std::vector<ScrapeTarget> targets) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = NowMs();
  std::map<std::string, ScrapeTarget> want;
  for (ScrapeTarget& t : targets) {
    std::string key = t.Key();
    want.emplace(std::move(key), std::move(t));
  }
  for (auto it = loops_.begin(); it != loops_.end();) {
    Loop& l = *it->second;
    if (want.count(it->first) == 0 && !l.removed) {
      l.removed = true;
      if (!l.in_flight) {
        if (!l.scraper.scraped()) {
          it = loops_.erase(it);
          continue;
        }
        ScheduleEndOfRun(l, now);
      }
    }
    ++it;
  }
  for (auto& [key, t] : want) {
    auto it = loops_.find(key);
    if (it != loops_.end()) {
      Loop& l = *it->second;
      if (l.removed) {  // Back before its end-of-run markers: carry on.
        l.removed = false;
        l.stale_due_ms = 0;
        if (!l.in_flight && l.next_ms <= now) {
          l.next_ms = NextScrapeSlotMs(now, l.offset_ms, t.options.interval);
        }
      }
      continue;
    }
    auto loop = std::make_shared<Loop>(t);
    loop->offset_ms = ScrapeOffsetMs(key, t.options.interval);
    loop->next_ms = NextScrapeSlotMs(now, loop->offset_ms, t.options.interval);
    loop->status.job = t.job;
    loop->status.address = t.address;
    loop->status.labels = t.labels;
    loop->status.scrape_url = t.scheme + "://" + t.address + t.RequestTarget();
    loop->status.interval = t.options.interval;
    loop->status.timeout = t.options.timeout;
    loops_.emplace(key, std::move(loop));
  }
  cv_.notify_all();
}

std::vector<Scraper::Job> Scraper::TakeDue(int64_t now_ms, int64_t* next_ms) {
  std::vector<Job> due;
  *next_ms = kNever;
  for (auto& [key, l] : loops_) {
    if (l->in_flight) continue;
    const bool end_of_run = l->removed;
    const auto interval = l->scraper.target().options.interval;
    if (!end_of_run && l->next_ms - now_ms > interval.count()) {
      // The wall clock went back: keep scraping at the offset instead of waiting for it.
      l->next_ms = NextScrapeSlotMs(now_ms, l->offset_ms, interval);
    }
    const int64_t at = end_of_run ? l->stale_due_ms : l->next_ms;
    if (at <= now_ms) {
      l->in_flight = true;
      due.push_back(Job{l, end_of_run, l->next_ms});
    } else {
      *next_ms = std::min(*next_ms, at);
    }
  }
  return due;
}

void Scraper::Execute(const Job& job) {
  Loop& l = *job.loop;
  const ScrapeTarget& t = l.scraper.target();
  if (job.end_of_run) {
    Result<uint64_t> n = l.scraper.WriteEndOfRun(l.stale_ts_ms, store_);
    std::lock_guard<std::mutex> lock(mu_);
    if (n.ok()) {
      stale_markers_ += *n;
    } else if (warn_limiter_.Allow("eor" + t.Key())) {
      spdlog::warn("scrape {} {}: cannot write staleness markers: {}", t.job, t.address,
                   n.status().ToString());
    }
    return;
  }
  const int64_t start_ms = NowMs();
  const auto mono_start = clock_.MonotonicNow();
  const int64_t ts = std::abs(start_ms - job.slot_ms) <= options_.timestamp_tolerance.count()
                         ? job.slot_ms
                         : start_ms;
  Result<ScrapeResponse> fetched = fetcher_.Fetch(t);
  const double duration = std::chrono::duration<double>(clock_.MonotonicNow() - mono_start).count();
  ScrapeReport r = l.scraper.Write(fetched, ts, duration, store_);
  std::lock_guard<std::mutex> lock(mu_);
  stale_markers_ += r.stale_markers;
  ScrapeTargetStatus& s = l.status;
  s.scraped = true;
  s.up = r.up;
  ++s.scrapes;
  JobTotals& totals = totals_[t.job];
  ++totals.scrapes;
  totals.failures += r.error.ok() ? 0 : 1;
  s.last_scrape_ms = ts;
  s.last_duration_seconds = duration;
  s.last_samples = r.samples_scraped;
  if (r.error.ok()) {
    s.last_error.clear();
    return;
  }
  ++s.failures;
  s.last_error = r.error.message();
  uint64_t suppressed = 0;
  if (warn_limiter_.Allow(t.Key(), &suppressed)) {
    spdlog::warn("scrape {} {}{}: {} ({} similar messages suppressed)", t.job, t.address,
                 t.RequestTarget(), r.error.ToString(), suppressed);
  }
}

void Scraper::Finish(const Job& job) {
  Loop& l = *job.loop;
  l.in_flight = false;
  const int64_t now = NowMs();
  const auto interval = l.scraper.target().options.interval;
  if (job.end_of_run) {
    if (l.removed) {
      loops_.erase(l.scraper.target().Key());
    } else {
      l.next_ms = NextScrapeSlotMs(now, l.offset_ms, interval);
    }
    return;
  }
  if (l.removed) {
    ScheduleEndOfRun(l, now);
    return;
  }
  l.next_ms = NextScrapeSlotMs(std::max(now, job.slot_ms), l.offset_ms, interval);
}

size_t Scraper::RunDue() {
  std::vector<Job> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t next = 0;
    due = TakeDue(NowMs(), &next);
  }
  for (const Job& j : due) {
    Execute(j);
    std::lock_guard<std::mutex> lock(mu_);
    Finish(j);
  }
  return due.size();
}

void Scraper::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (scheduler_.joinable()) return;
  stopping_ = false;
  scheduler_ =
      std::thread([this] { RunGuarded("scrape scheduler", [this] { SchedulerThread(); }); });
  for (size_t i = 0; i < std::max<size_t>(1, options_.workers); ++i) {
    workers_.emplace_back([this] { RunGuarded("scrape worker", [this] { WorkerThread(); }); });
  }
}

void Scraper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  work_cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (std::thread& w : workers_) w.join();
  workers_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  for (const Job& j : queue_) j.loop->in_flight = false;
  queue_.clear();
}

void Scraper::SchedulerThread() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const int64_t now = NowMs();
    int64_t next = kNever;
    std::vector<Job> due = TakeDue(now, &next);
    if (!due.empty()) {
      for (Job& j : due) queue_.push_back(std::move(j));
      work_cv_.notify_all();
    }
    const int64_t wait = std::clamp<int64_t>(next == kNever ? 1000 : next - now, 1, 1000);
    cv_.wait_for(lock, std::chrono::milliseconds(wait));
  }
}

void Scraper::WorkerThread() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Execute(job);
    lock.lock();
    Finish(job);
    cv_.notify_all();
  }
}

std::vector<ScrapeTargetStatus> Scraper::Targets() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ScrapeTargetStatus> out;
  for (const auto& [key, l] : loops_) {
    if (!l->removed) out.push_back(l->status);
  }
  return out;
}

std::map<std::string, Scraper::JobTotals> Scraper::Totals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return totals_;
}

uint64_t Scraper::stale_markers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stale_markers_;
}

}  // namespace tidemark::collector
