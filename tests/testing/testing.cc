#include "tests/testing/testing.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace tidemark::testing {

std::string FixturePath(const std::string& rel) {
  return std::string(TIDEMARK_SOURCE_DIR) + "/tests/fixtures/" + rel;
}

TempDir::TempDir() {
  const char* tmp = getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tidemark-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void TempDir::WriteFile(const std::string& rel, const std::string& content) const {
  std::filesystem::path p = std::filesystem::path(path_) / rel;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

std::string PrivilegedSkipReason() {
  if (geteuid() != 0) return "needs root (creates cgroups under /sys/fs/cgroup)";
  if (access("/sys/fs/cgroup", W_OK) != 0) return "/sys/fs/cgroup is not writable";
  return "";
}

}  // namespace tidemark::testing
