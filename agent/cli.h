// The tidemark command line: subcommands, flags, exit codes (0 ok, 1 run-time failure, 2 bad
// usage, config, listen address or data dir).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "agent/config.h"

namespace tidemark::agent {

// Applies `tidemark agent` flags on top of *config (flags win over the file). Returns
// InvalidArgument naming the flag on a bad value or an unknown flag; *help is set for --help.
Status ApplyAgentFlags(const std::vector<std::string>& args, AgentConfig* config, bool* help,
                       std::string* config_path);

// Runs the CLI with args (argv[1..]); writes usage and results to out/err. Returns the exit code.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tidemark::agent
