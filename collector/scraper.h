// Runs scrape loops for a changing set of targets: each target on its own interval at a fixed
// offset into it (hash of the target), on a bounded pool of worker threads, writing into a
// ScrapeStore. Failures are up=0, counted and logged at most once a minute per target.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collector/scrape.h"
#include "common/clock.h"
#include "common/logging.h"

namespace tidemark::collector {

struct ScraperOptions {
  size_t workers = 4;  // Scrapes running at once. Default: 4
  // A scrape starting within this of its slot is stamped with the slot time (Prometheus'
  // timestamp alignment). Default: 2 ms
  std::chrono::milliseconds timestamp_tolerance{2};
};

// Per-target state for self-metrics and status pages.
struct ScrapeTargetStatus {
  std::string job;
  std::string address;
  Labels labels;           // Target labels.
  std::string scrape_url;  // http://address/path?params
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds timeout{0};
  bool up = false;
  bool scraped = false;  // At least once.
  uint64_t scrapes = 0;
  uint64_t failures = 0;
  std::string last_error;
  int64_t last_scrape_ms = 0;
  double last_duration_seconds = 0;
  uint64_t last_samples = 0;
};

// Thread-safe. `clock`, `store` and `fetcher` must outlive it.
class Scraper {
 public:
  Scraper(const Clock& clock, ScrapeStore& store, ScrapeFetcher& fetcher,
          ScraperOptions options = {});
  ~Scraper();  // Stops.

  // Replaces the target set (matched by ScrapeTarget::Key()). New targets start at their next
  // slot. Removed ones that were scraped get Prometheus' end-of-run staleness markers, stamped
  // with what would have been their next slot and written one interval (+10%) after it, unless
  // they come back before.
  void SetTargets(std::vector<ScrapeTarget> targets);
  // Starts the scheduler and worker threads.
  void Start();
  // Stops and joins; no end-of-run markers (a restart carries on where it was, as Prometheus).
  void Stop();
  // Without Start(): runs on the calling thread every scrape and pending end-of-run write due at
  // the clock's time, and returns how many ran. For tests with a fake clock.
  size_t RunDue();

  std::vector<ScrapeTargetStatus> Targets() const;
  struct JobTotals {
    uint64_t scrapes = 0;
    uint64_t failures = 0;
  };
  // Since start, by job; never decrease (targets that went away included).
  std::map<std::string, JobTotals> Totals() const;
  uint64_t stale_markers() const;  // Written so far (series gone, failed scrapes, end of run).

 private:
  struct Loop {
    explicit Loop(ScrapeTarget t) : scraper(std::move(t)) {}
    TargetScraper scraper;
    int64_t offset_ms = 0;
    int64_t next_ms = 0;  // Next slot (wall ms).
    bool in_flight = false;
    bool removed = false;
    int64_t stale_ts_ms = 0;   // When removed: the end-of-run markers' timestamp...
    int64_t stale_due_ms = 0;  // ... and when to write them.
    ScrapeTargetStatus status;
  };
  using LoopPtr = std::shared_ptr<Loop>;

  struct Job {
    LoopPtr loop;
    bool end_of_run = false;
    int64_t slot_ms = 0;
  };
  // Under mu_: the loops due at now_ms, marked in flight; *next_ms gets the earliest later due.
  std::vector<Job> TakeDue(int64_t now_ms, int64_t* next_ms);
  void Execute(const Job& job);                       // Without mu_; the loop is in flight.
  void Finish(const Job& job);                        // Under mu_.
  void ScheduleEndOfRun(Loop& loop, int64_t now_ms);  // Under mu_.
  void SchedulerThread();
  void WorkerThread();
  int64_t NowMs() const;

  const Clock& clock_;
  ScrapeStore& store_;
  ScrapeFetcher& fetcher_;
  const ScraperOptions options_;
  RateLimiter warn_limiter_;

  mutable std::mutex mu_;
  std::condition_variable cv_;               // Wakes the scheduler.
  std::condition_variable work_cv_;          // Wakes workers.
  std::map<std::string, LoopPtr> loops_;     // Guarded by mu_; by key, removed ones included.
  std::deque<Job> queue_;                    // Guarded by mu_.
  bool stopping_ = false;                    // Guarded by mu_.
  uint64_t stale_markers_ = 0;               // Guarded by mu_.
  std::map<std::string, JobTotals> totals_;  // Guarded by mu_.
  std::thread scheduler_;
  std::vector<std::thread> workers_;
};

}  // namespace tidemark::collector
