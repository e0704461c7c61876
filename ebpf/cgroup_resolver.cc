#include "ebpf/cgroup_resolver.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
#include <unordered_set>
#include <vector>

#include "common/file_util.h"

namespace tidemark::ebpf {

std::string_view CgroupHierarchyName(CgroupHierarchy h) {
  switch (h) {
    case CgroupHierarchy::kUnified:
      return "unified";
    case CgroupHierarchy::kMemory:
      return "memory";
    case CgroupHierarchy::kBlkio:
      return "blkio";
  }
  return "?";
}

const std::string& CgroupRoots::Of(CgroupHierarchy h) const {
  switch (h) {
    case CgroupHierarchy::kMemory:
      return memory;
    case CgroupHierarchy::kBlkio:
      return blkio;
    case CgroupHierarchy::kUnified:
      break;
  }
  return unified;
}

Result<CgroupRoots> CgroupRoots::ParseMountInfo(std::string_view mountinfo,
                                                const std::string& root) {
  // mountinfo: "id parent maj:min root mountpoint options [optional...] - fstype source superopts".
  CgroupRoots r;
  std::istringstream in{std::string(mountinfo)};
  std::string line;
  const std::string prefix = root == "/" ? "" : root;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> fields;
    for (std::string tok; f >> tok;) fields.push_back(tok);
    size_t dash = 0;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (dash < 5 || dash + 3 > fields.size()) continue;
    const std::string& fstype = fields[dash + 1];
    const std::string mountpoint = prefix + fields[4];
    if (fstype == "cgroup2") {
      if (r.unified.empty()) r.unified = mountpoint;
    } else if (fstype == "cgroup") {
      std::string opts = "," + fields[dash + 3] + ",";
      if (opts.find(",memory,") != std::string::npos && r.memory.empty()) r.memory = mountpoint;
      if (opts.find(",blkio,") != std::string::npos && r.blkio.empty()) r.blkio = mountpoint;
    }
  }
  if (r.unified.empty() && r.memory.empty() && r.blkio.empty()) {
    return Status::NotFound("no cgroup or cgroup2 mount in mountinfo");
  }
  // Pure v2 (or controllers not mounted on v1): the controllers live in the v2 tree.
  if (r.memory.empty()) r.memory = r.unified;
  if (r.blkio.empty()) r.blkio = r.unified;
  return r;
}

Result<CgroupRoots> CgroupRoots::FromMountInfo(const HostPaths& paths) {
  Result<std::string> text = ReadFile(paths.proc + "/1/mountinfo");
  if (!text.ok()) text = ReadFile(paths.proc + "/self/mountinfo");
  if (!text.ok()) return text.status();
  return ParseMountInfo(*text, paths.root);
}

CgroupIdIndex::CgroupIdIndex(CgroupRoots roots, const Clock& clock, CgroupIdIndexOptions options)
    : roots_(std::move(roots)), clock_(clock), options_(std::move(options)) {
  for (CgroupHierarchy h :
       {CgroupHierarchy::kUnified, CgroupHierarchy::kMemory, CgroupHierarchy::kBlkio}) {
    const std::string& dir = roots_.Of(h);
    if (dir.empty()) continue;
    int idx = -1;
    for (size_t i = 0; i < dirs_.size(); ++i) {
      if (dirs_[i] == dir) idx = static_cast<int>(i);
    }
    if (idx < 0) {
      idx = static_cast<int>(dirs_.size());
      dirs_.push_back(dir);
    }
    index_of_[static_cast<int>(h)] = idx;
  }
  ids_.resize(dirs_.size());
}

uint64_t CgroupIdIndex::scans() const {
  std::lock_guard<std::mutex> lock(mu_);
  return scans_;
}

void CgroupIdIndex::Walk(int hier, const std::string& root, const std::string& rel) {
  std::string dir = root + rel;
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return;
  ids_[hier][static_cast<uint64_t>(st.st_ino)] = rel.empty() ? "/" : rel;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> children;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    children.push_back(rel + "/" + e->d_name);
  }
  ::closedir(d);
  for (const std::string& child : children) Walk(hier, root, child);
}

void CgroupIdIndex::ScanLocked() {
  last_scan_start_ = clock_.MonotonicNow();
  scanned_ = true;
  ++scans_;
  for (size_t i = 0; i < dirs_.size(); ++i) {
    ids_[i].clear();
    Walk(static_cast<int>(i), dirs_[i], "");
  }
  // Labels of removed cgroups go too, so they never pile up.
  std::vector<std::unordered_set<std::string_view>> alive(ids_.size());
  for (size_t i = 0; i < ids_.size(); ++i) {
    for (const auto& [id, path] : ids_[i]) alive[i].insert(path);
  }
  for (auto it = labels_.begin(); it != labels_.end();) {
    it = alive[it->first.first].count(it->first.second) ? std::next(it) : labels_.erase(it);
  }
}

std::optional<CgroupRef> CgroupIdIndex::Resolve(CgroupHierarchy h, uint64_t id,
                                                std::chrono::steady_clock::time_point seen_at) {
  std::lock_guard<std::mutex> lock(mu_);
  int hier = index_of_[static_cast<int>(h)];
  if (hier < 0) return std::nullopt;
  if (!scanned_ || clock_.MonotonicNow() - last_scan_start_ > options_.max_table_age) ScanLocked();
  auto it = ids_[hier].find(id);
  if (it == ids_[hier].end()) {
    // Unknown: rescan unless a scan already started after the kernel saw the id (then the cgroup
    // is gone) or the last scan is too recent (then it may be new; it resolves on a later cycle).
    if (scanned_ && last_scan_start_ >= seen_at) return std::nullopt;
    if (scanned_ && clock_.MonotonicNow() - last_scan_start_ < options_.min_rescan_interval) {
      return CgroupRef{};
    }
    ScanLocked();
    it = ids_[hier].find(id);
    if (it == ids_[hier].end()) return std::nullopt;
  }
  CgroupRef ref;
  ref.path = it->second;
  auto key = std::make_pair(hier, ref.path);
  auto lit = labels_.find(key);
  if (lit == labels_.end()) {
    LabelSetPtr labels;
    if (options_.labeler) {
      labels = options_.labeler(h, ref.path);
    } else if (ref.path != "/") {
      labels = std::make_shared<const LabelSet>(Labels{{"id", ref.path}});
    }
    lit = labels_.emplace(std::move(key), std::move(labels)).first;
  }
  ref.labels = lit->second;
  return ref;
}

}  // namespace tidemark::ebpf
