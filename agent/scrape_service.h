// Scrapes the application targets of the `scrape:` section (static and Docker-label discovered)
// into the local store, for PromQL over application metrics (e.g. p95 latency for autoscaling).
#pragma once

#include <memory>

#include "agent/service.h"
#include "collector/scrape.h"
#include "tsdb/db.h"

namespace tidemark::agent {

// collector::ScrapeStore over the local store: one Db::Appender per scrape; staleness markers
// are tsdb::StaleNaN(). Thread-safe (Db is).
class DbScrapeStore final : public collector::ScrapeStore {
 public:
  explicit DbScrapeStore(tsdb::Db& db) : db_(db) {}
  std::unique_ptr<collector::ScrapeAppender> NewAppender() override;

 private:
  tsdb::Db& db_;
};

// The scrape service, or null when the config has no scrape jobs and no docker_sd. Without a
// store (disabled or failed to open) it logs why and returns null: nothing to write into.
Result<std::unique_ptr<Service>> MakeScrapeService(const ServiceContext& ctx);

}  // namespace tidemark::agent
