#include "ebpf/cgroup_resolver.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
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
  ids_[hier][static_cast<uint64_t>(st.st_ino)].path = rel.empty() ? "/" : rel;
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
    // Removed cgroups (and their labels) go; surviving ones keep their label set, so a container
    // keeps one LabelSet object (readers group series by it) across rescans.
    std::unordered_map<uint64_t, Entry> old = std::move(ids_[i]);
    ids_[i].clear();
    ids_[i].reserve(old.size());
    Walk(static_cast<int>(i), dirs_[i], "");
    for (auto& [id, e] : ids_[i]) {
      auto it = old.find(id);
      if (it != old.end() && it->second.labeled && it->second.path == e.path) {
        e = std::move(it->second);
      }
    }
  }
}

LabelSetPtr CgroupIdIndex::Label(CgroupHierarchy h, std::string_view path) const {
  if (options_.labeler) return options_.labeler(h, path);
  if (path.empty() || path == "/") return nullptr;
  return std::make_shared<const LabelSet>(Labels{{"id", std::string(path)}});
}

LabelSetPtr CgroupIdIndex::LabelsOfPath(CgroupHierarchy h, std::string_view path) {
  std::lock_guard<std::mutex> lock(mu_);
  return Label(h, path);
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
  Entry& e = it->second;
  const uint64_t version = options_.labels_version ? options_.labels_version() : 0;
  if (!e.labeled || e.labels_version != version) {
    e.labels = Label(h, e.path);
    e.labels_version = version;
    e.labeled = true;
  }
  return CgroupRef{e.path, e.labels};
}

}  // namespace tidemark::ebpf
