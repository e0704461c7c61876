#include "collector/cgroup_layout.h"

#include <sys/stat.h>

#include <algorithm>

#include "common/file_util.h"

namespace tidemark::collector {

std::string_view CgroupModeName(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kV1:
      return "v1";
    case CgroupMode::kV2:
      return "v2";
    case CgroupMode::kHybrid:
      return "hybrid";
  }
  return "unknown";
}

bool CgroupLayout::V2Has(std::string_view controller) const {
  return std::find(v2_controllers.begin(), v2_controllers.end(), controller) !=
         v2_controllers.end();
}

std::vector<std::string> CgroupLayout::Hierarchies() const {
  std::vector<std::string> out;
  for (const std::string* p : {&cpu, &cpuacct, &memory, &blkio, &pids, &unified}) {
    if (!p->empty() && std::find(out.begin(), out.end(), *p) == out.end()) out.push_back(*p);
  }
  return out;
}

namespace {

std::vector<std::string> SplitWords(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view w = s.substr(start, end - start);
    while (!w.empty() && (w.back() == '\n' || w.back() == ' ')) w.remove_suffix(1);
    if (!w.empty()) out.emplace_back(w);
    start = end + 1;
  }
  return out;
}

bool HasToken(const std::vector<std::string>& tokens, std::string_view t) {
  return std::find(tokens.begin(), tokens.end(), t) != tokens.end();
}

// Assigns `dir` to every v1 role it serves that is still unassigned.
void ClassifyV1(const std::string& dir, const std::string& name, CgroupLayout* l) {
  std::vector<std::string> tokens = SplitWords(name, ',');
  auto assign = [&](std::string* role, std::string_view file, std::string_view token) {
    if (!role->empty()) return;
    if ((!file.empty() && PathExists(dir + "/" + std::string(file))) || HasToken(tokens, token)) {
      *role = dir;
    }
  };
  assign(&l->cpu, "cpu.shares", "cpu");
  assign(&l->cpuacct, "cpuacct.usage", "cpuacct");
  assign(&l->memory, "memory.usage_in_bytes", "memory");
  assign(&l->blkio, "blkio.throttle.io_service_bytes", "blkio");
  assign(&l->pids, "", "pids");  // The v1 pids root has no pids.* files.
}

}  // namespace

Result<CgroupLayout> DetectCgroupLayout(const HostPaths& paths) {
  const std::string root = paths.CgroupRoot();
  CgroupLayout l;
  auto read_controllers = [&l](const std::string& dir) {
    std::string text;
    if (ReadFileInto(dir + "/cgroup.controllers", &text).ok()) {
      l.v2_controllers = SplitWords(text, ' ');
    }
  };
  if (PathExists(root + "/cgroup.controllers")) {
    l.mode = CgroupMode::kV2;
    l.unified = root;
    read_controllers(root);
    return l;
  }
  Result<std::vector<std::string>> entries = ListDir(root, /*dirs_only=*/false);
  if (!entries.ok()) return entries.status();
  std::vector<std::string> names = std::move(entries.value());
  std::sort(names.begin(), names.end());
  std::vector<std::string> links;
  for (const std::string& name : names) {
    std::string dir = root + "/" + name;
    struct stat st;
    if (::lstat(dir.c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      links.push_back(name);
      continue;
    }
    if (!S_ISDIR(st.st_mode)) continue;
    if (PathExists(dir + "/cgroup.controllers")) {
      if (l.unified.empty()) l.unified = dir;
      continue;
    }
    ClassifyV1(dir, name, &l);
  }
  for (const std::string& name : links) {
    std::string dir = root + "/" + name;
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    ClassifyV1(dir, name, &l);
  }
  bool any_v1 = !l.cpu.empty() || !l.cpuacct.empty() || !l.memory.empty() || !l.blkio.empty() ||
                !l.pids.empty();
  if (!any_v1 && l.unified.empty()) {
    return Status::NotFound(root + ": no cgroup v1 controller or v2 tree found");
  }
  if (!l.unified.empty()) read_controllers(l.unified);
  l.mode = !any_v1 ? CgroupMode::kV2 : l.unified.empty() ? CgroupMode::kV1 : CgroupMode::kHybrid;
  return l;
}

}  // namespace tidemark::collector
