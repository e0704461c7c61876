// Runtime metadata for containers (name, image, labels), looked up by container id.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tidemark::collector {

struct ContainerMetadata {
  std::string name;   // Runtime name without the leading '/', e.g. "web.1.x7f3"
  std::string image;  // Image reference as the runtime reports it, e.g. "busybox:latest"
  std::map<std::string, std::string> labels;  // All runtime labels; callers filter by allow-list.
  bool operator==(const ContainerMetadata&) const = default;
};

// A source of container metadata (Docker Engine API, or a fake in tests). Lookup must be cheap on
// a hit; a miss may trigger a rate-limited refresh. Called from the collection thread only.
class MetadataProvider {
 public:
  virtual ~MetadataProvider() = default;
  // `id` is the full 64-hex container id. nullopt when unknown or the runtime is unreachable.
  virtual std::optional<ContainerMetadata> Lookup(std::string_view id) = 0;
};

}  // namespace tidemark::collector
