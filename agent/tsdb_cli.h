// `tidemark tsdb ...`: bench-write, import, stats and verify on a data directory.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "tsdb/db.h"

namespace tidemark::agent {

// args are those after "tsdb". Returns the exit code (0 ok, 1 failure/problems found, 2 usage).
int RunTsdbCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Opens the store in `dir` for offline tools (tsdb import/stats/verify, query --data-dir): no
// retention and no too-old window, so imported history and old data are kept as they are.
Result<std::unique_ptr<tsdb::Db>> OpenOfflineStore(const std::string& dir);

}  // namespace tidemark::agent
