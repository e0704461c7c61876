// `tidemark tsdb ...`: bench-write, import, stats and verify on a data directory.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tidemark::agent {

// args are those after "tsdb". Returns the exit code (0 ok, 1 failure/problems found, 2 usage).
int RunTsdbCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tidemark::agent
