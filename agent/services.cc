#include "agent/service.h"

namespace tidemark::agent {

Result<std::vector<std::unique_ptr<Service>>> MakeServices(const ServiceContext& ctx) {
  std::vector<std::unique_ptr<Service>> services;
  (void)ctx;
  return services;
}

}  // namespace tidemark::agent
