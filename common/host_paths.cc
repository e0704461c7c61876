#include "common/host_paths.h"

namespace tidemark {

HostPaths HostPaths::Under(const std::string& root_dir) {
  std::string r = root_dir;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  HostPaths p;
  p.root = r.empty() ? "/" : r;
  const std::string base = (r == "/" || r.empty()) ? "" : r;
  p.proc = base + "/proc";
  p.sys = base + "/sys";
  return p;
}

}  // namespace tidemark
