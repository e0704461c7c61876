#include "autoscaler/orchestrator.h"

namespace tidemark::autoscaler {

std::string ScaleTarget::Describe() const {
  if (kind == "SwarmService") return "swarm service " + name;
  std::string k = kind == "StatefulSet" ? "statefulset " : "deployment ";
  return k + namespace_ + "/" + name;
}

}  // namespace tidemark::autoscaler
