// Small, allocation-conscious file helpers for /proc and /sys readers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark {

// Reads the whole file into *out (reusing its capacity). NotFound when the file does not exist,
// IoError otherwise. Works for procfs/sysfs files whose stat size is 0.
Status ReadFileInto(const std::string& path, std::string* out);
Result<std::string> ReadFile(const std::string& path);

// Names of the entries of a directory (no "." / ".."), optionally only subdirectories.
Result<std::vector<std::string>> ListDir(const std::string& path, bool dirs_only);

bool PathExists(const std::string& path);

// Replaces the file at `path` with `data` so that a crash leaves either the old or the new
// content: written to path + ".tmp", fsynced, then renamed over `path`. IoError names the step.
Status WriteFileAtomically(const std::string& path, std::string_view data);

}  // namespace tidemark
