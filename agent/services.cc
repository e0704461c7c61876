#include "agent/scrape_service.h"
#include "agent/service.h"

namespace tidemark::agent {

Result<std::vector<std::unique_ptr<Service>>> MakeServices(const ServiceContext& ctx) {
  std::vector<std::unique_ptr<Service>> services;
  auto scrape = MakeScrapeService(ctx);
  if (!scrape.ok()) return scrape.status();
  if (*scrape != nullptr) services.push_back(std::move(*scrape));
  return services;
}

}  // namespace tidemark::agent
