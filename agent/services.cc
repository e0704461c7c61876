#include "agent/alerting_service.h"
#include "agent/autoscaler_service.h"
#include "agent/scrape_service.h"
#include "agent/service.h"

namespace tidemark::agent {

Result<std::vector<std::unique_ptr<Service>>> MakeServices(const ServiceContext& ctx) {
  std::vector<std::unique_ptr<Service>> services;
  auto scrape = MakeScrapeService(ctx);
  if (!scrape.ok()) return scrape.status();
  if (*scrape != nullptr) services.push_back(std::move(*scrape));
  auto alerting = MakeAlertingService(ctx);
  if (!alerting.ok()) return alerting.status();
  if (*alerting != nullptr) services.push_back(std::move(*alerting));
  auto autoscaler = MakeAutoscalerService(ctx);
  if (!autoscaler.ok()) return autoscaler.status();
  if (*autoscaler != nullptr) services.push_back(std::move(*autoscaler));
  return services;
}

}  // namespace tidemark::agent
