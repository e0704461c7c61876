#include "common/oom_event.h"

namespace tidemark {

void OomEventHub::Subscribe(Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handlers_.push_back(std::move(handler));
}

void OomEventHub::Publish(const OomEvent& event) const {
  std::vector<Handler> handlers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    handlers = handlers_;
  }
  for (const auto& h : handlers) h(event);
}

bool OomEventHub::HasSubscribers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !handlers_.empty();
}

}  // namespace tidemark
