#include "agent/cli.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <csignal>

#include "agent/agent.h"
#include "agent/alerting_service.h"
#include "agent/query_cli.h"
#include "agent/tsdb_cli.h"
#include "autoscaler/simulate.h"
#include "common/duration.h"
#include "common/logging.h"

#ifndef TIDEMARK_VERSION
#define TIDEMARK_VERSION "dev"
#endif

namespace tidemark::agent {

namespace {

constexpr char kTopUsage[] =
    "Usage: tidemark <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  agent          Run the node agent (collectors, /metrics) until SIGINT/SIGTERM.\n"
    "  autoscaler     Autoscaler tools: simulate (replay metrics through a policy).\n"
    "  check config   Validate a configuration file and print the effective configuration.\n"
    "  query          Evaluate a PromQL expression against an agent or a data dir.\n"
    "  tsdb           Store tools: bench-write, import, stats, verify.\n"
    "  version        Print the version.\n"
    "\n"
    "Run 'tidemark <command> --help' for the flags of a command.\n";

constexpr char kAgentUsage[] =
    "Usage: tidemark agent [flags]\n"
    "\n"
    "Runs collectors every interval and serves /metrics, /healthz, /-/ready and the\n"
    "Prometheus API (/api/v1/query, query_range, series, labels, ...).\n"
    "Flags override the configuration file; every setting has a default.\n"
    "\n"
    "  --config FILE          YAML or JSON configuration file (default: built-in defaults)\n"
    "  --listen ADDR:PORT     HTTP listen address (default 127.0.0.1:9920)\n"
    "  --data-dir DIR         Data directory (default ./data)\n"
    "  --host-root DIR        Where the host's / is mounted, e.g. /host (default /)\n"
    "  --interval DURATION    Collection interval, e.g. 1s, 500ms (default 1s)\n"
    "  --no-ebpf              Do not load eBPF programs\n"
    "  --log-level LEVEL      trace, debug, info, warn, error (default info)\n"
    "  --log-format FORMAT    text or json (default text)\n"
    "  -h, --help             Show this help\n";

constexpr char kCheckUsage[] =
    "Usage: tidemark check config FILE\n"
    "\n"
    "Validates FILE (YAML or JSON). Prints the effective configuration with defaults filled in\n"
    "and exits 0, or prints the file, the key and the reason and exits 2.\n";

}  // namespace

Status ApplyAgentFlags(const std::vector<std::string>& args, AgentConfig* c, bool* help,
                       std::string* config_path) {
  *help = false;
  // First pass: --config and --help, so that the file is loaded before flags override it.
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      *help = true;
      return Status::Ok();
    }
  }
  auto take = [&](size_t* i, const std::string& flag, std::string* value) -> Status {
    const std::string& a = args[*i];
    if (a.size() > flag.size() && a.compare(0, flag.size() + 1, flag + "=") == 0) {
      *value = a.substr(flag.size() + 1);
      return Status::Ok();
    }
    if (*i + 1 >= args.size()) return Status::InvalidArgument(flag + ": missing value");
    *value = args[++*i];
    return Status::Ok();
  };
  auto is = [](const std::string& a, const std::string& flag) {
    return a == flag || a.starts_with(flag + "=");
  };
  for (size_t i = 0; i < args.size(); ++i) {
    if (is(args[i], "--config")) {
      TIDEMARK_RETURN_IF_ERROR(take(&i, "--config", config_path));
      auto loaded = LoadConfigFile(*config_path);
      if (!loaded.ok()) return loaded.status();
      *c = std::move(*loaded);
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string v;
    if (is(a, "--config")) {
      TIDEMARK_RETURN_IF_ERROR(take(&i, "--config", &v));
    } else if (is(a, "--listen")) {
      TIDEMARK_RETURN_IF_ERROR(take(&i, "--listen", &c->listen));
    } else if (is(a, "--data-dir")) {
      TIDEMARK_RETURN_IF_ERROR(take(&i, "--data-dir", &c->data_dir));
    } else if (is(a, "--host-root")) {
      TIDEMARK_RETURN_IF_ERROR(take(&i, "--host-root", &c->host_root));
    } else if (is(a, "--interval")) {
      TIDEMARK_RETURN_IF_ERROR(take(&i, "--interval", &v));
      auto d = ParseDuration(v);
      if (!d.ok()) return Status::InvalidArgument("--interval: " + d.status().message());
      c->interval = *d;
    } else if (a == "--no-ebpf") {
      c->ebpf = false;
    } else if (is(a, "--log-level")) {
      TIDEMARK_RETURN_IF_ERROR(take(&i, "--log-level", &c->log_level));
    } else if (is(a, "--log-format")) {
      TIDEMARK_RETURN_IF_ERROR(take(&i, "--log-format", &c->log_format));
    } else {
      return Status::InvalidArgument("unknown flag \"" + a + "\" (see tidemark agent --help)");
    }
  }
  return ValidateConfig(*c, config_path->empty() ? "flags" : *config_path + " + flags");
}

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    (args.empty() ? err : out) << kTopUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string& cmd = args[0];
  if (cmd == "version" || cmd == "--version") {
    out << "tidemark " << TIDEMARK_VERSION << "\n";
    return 0;
  }
  if (cmd == "query") {
    return RunQueryCli(std::vector<std::string>(args.begin() + 1, args.end()), out, err,
                       SystemClock::Instance());
  }
  if (cmd == "autoscaler") {
    return autoscaler::RunAutoscalerCli(std::vector<std::string>(args.begin() + 1, args.end()), out,
                                        err);
  }
  if (cmd == "tsdb") {
    return RunTsdbCli(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
  }
  if (cmd == "check") {
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (!rest.empty() &&
        (rest[0] == "-h" || rest[0] == "--help" ||
         (rest.size() > 1 && rest[0] == "config" && (rest[1] == "-h" || rest[1] == "--help")))) {
      out << kCheckUsage;
      return 0;
    }
    if (rest.size() != 2 || rest[0] != "config") {
      err << kCheckUsage;
      return 2;
    }
    auto c = LoadConfigFile(rest[1]);
    if (!c.ok()) {
      err << "tidemark: " << c.status().message() << "\n";
      return 2;
    }
    std::vector<std::string> rule_errors = CheckAlertingRules(c->alerting);
    for (const std::string& e : rule_errors) err << "tidemark: rule file: " << e << "\n";
    if (!rule_errors.empty()) return 2;
    out << "# " << rest[1] << ": OK\n" << ConfigToYaml(*c);
    return 0;
  }
  if (cmd == "agent") {
    AgentConfig config;
    bool help = false;
    std::string config_path;
    Status st = ApplyAgentFlags(std::vector<std::string>(args.begin() + 1, args.end()), &config,
                                &help, &config_path);
    if (help) {
      out << kAgentUsage;
      return 0;
    }
    if (!st.ok()) {
      err << "tidemark: " << st.message() << "\n";
      return 2;
    }
    st = SetupLogging(config.log_level,
                      config.log_format == "json" ? LogFormat::kJson : LogFormat::kText);
    if (!st.ok()) {
      err << "tidemark: " << st.message() << "\n";
      return 2;
    }
    // The cgroup collector keeps its files open between cycles; give it the hard fd limit.
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &rl) != 0) spdlog::debug("could not raise RLIMIT_NOFILE");
    }
    // SIGHUP reloads rule files while Run serves; before and after (store open and replay,
    // shutdown) it must not kill the agent. Asio restores the default action when Run's
    // signal_set goes, so ignore it again once Run returns.
    std::signal(SIGHUP, SIG_IGN);
    auto agent = Agent::Create(config, SystemClock::Instance());
    if (!agent.ok()) {
      err << "tidemark: " << agent.status().message() << "\n";
      // A damaged store is not a usage error: exit 1 so supervisors do not mistake it for one.
      return agent.status().code() == StatusCode::kCorruption ? 1 : 2;
    }
    st = (*agent)->Run();
    std::signal(SIGHUP, SIG_IGN);
    if (!st.ok()) {
      err << "tidemark: " << st.message() << "\n";
      return 2;
    }
    return 0;
  }
  err << "tidemark: unknown command \"" << cmd << "\"\n\n" << kTopUsage;
  return 2;
}

}  // namespace tidemark::agent
