#include "agent/tsdb_cli.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "common/clock.h"
#include "common/file_util.h"
#include "common/text_parser.h"
#include "tsdb/db.h"

namespace tidemark::agent {

namespace {

constexpr char kUsage[] =
    "Usage: tidemark tsdb <command> [flags]\n"
    "\n"
    "  bench-write [--metrics N] [--scrapes S] [--out DIR] [--threads T]\n"
    "              [--compaction off|on] [--exit-without-close true] FILE\n"
    "      Ingest benchmark with promtool tsdb bench write's workload and input (one JSON label\n"
    "      set per line): batches of 1000 series, rounds of 100 scrapes, 30 s steps. Deletes DIR.\n"
    "      --compaction off (default) mirrors promtool's bench, which disables compaction; on\n"
    "      re-encodes sealed chunks in the background as the agent does.\n"
    "      --exit-without-close exits like kill -9 (no checkpoint, no close) to time recovery.\n"
    "  import --openmetrics FILE --data-dir DIR\n"
    "      Imports an OpenMetrics file (what promtool tsdb create-blocks-from openmetrics takes).\n"
    "  stats --data-dir DIR\n"
    "      Series, samples, bytes on disk and bytes per sample.\n"
    "  verify --data-dir DIR\n"
    "      Decodes every series, chunk and log record; lists what is damaged (exit 1 if any).\n";

struct Flags {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> named;
  std::string Get(const std::string& k, const std::string& def = "") const {
    for (const auto& [n, v] : named) {
      if (n == k) return v;
    }
    return def;
  }
  bool Has(const std::string& k) const {
    for (const auto& [n, v] : named) {
      if (n == k) return true;
    }
    return false;
  }
};

Result<Flags> ParseFlags(const std::vector<std::string>& args, size_t from,
                         std::initializer_list<std::string_view> known) {
  Flags f;
  for (size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!a.starts_with("--")) {
      f.positional.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Status::InvalidArgument("--" + name + ": missing value");
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return Status::InvalidArgument("unknown flag --" + name);
    }
    f.named.emplace_back(name, value);
  }
  return f;
}

Result<uint64_t> ParseCount(const std::string& flag, const std::string& v) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n == 0) {
    return Status::InvalidArgument("--" + flag + ": expected a positive integer, got \"" + v +
                                   "\"");
  }
  return n;
}

// One JSON object of string values per line; duplicates (after sorting) dropped; the first `max`.
Result<std::vector<Labels>> ReadLabelSets(const std::string& path, size_t max) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path);
  std::vector<Labels> out;
  std::unordered_set<std::string> seen;
  std::string line;
  size_t line_no = 0;
  while (out.size() < max && std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    Labels l;
    try {
      auto j = nlohmann::json::parse(line);
      if (!j.is_object()) throw std::runtime_error("not an object");
      for (auto& [k, v] : j.items()) {
        if (!v.is_string()) throw std::runtime_error("value of \"" + k + "\" is not a string");
        l.push_back(Label{k, v.get<std::string>()});
      }
    } catch (const std::exception& e) {
      return Status::InvalidArgument(path + ":" + std::to_string(line_no) + ": " + e.what());
    }
    SortLabels(&l);
    std::string key;
    for (const Label& x : l) key += x.name + '\xff' + x.value + '\xff';
    if (seen.insert(key).second) out.push_back(std::move(l));
  }
  return out;
}

// OpenOfflineStore for the tsdb subcommands: null (after printing why) on failure.
std::unique_ptr<tsdb::Db> OpenOffline(const std::string& dir, std::ostream& err) {
  auto db = OpenOfflineStore(dir);
  if (!db.ok()) {
    err << "tidemark: " << db.status().message() << "\n";
    return nullptr;
  }
  return std::move(*db);
}

int BenchWrite(const Flags& f, std::ostream& out, std::ostream& err) {
  auto metrics = ParseCount("metrics", f.Get("metrics", "10000"));
  auto scrapes = ParseCount("scrapes", f.Get("scrapes", "3000"));
  auto threads = ParseCount(
      "threads",
      f.Get("threads", std::to_string(std::max(1u, std::thread::hardware_concurrency()))));
  for (auto* r : {&metrics, &scrapes, &threads}) {
    if (!r->ok()) {
      err << "tidemark: " << r->status().message() << "\n";
      return 2;
    }
  }
  if (f.positional.size() != 1) {
    err << "tidemark: bench-write needs one FILE (one JSON label set per line)\n";
    return 2;
  }
  std::string dir = f.Get("out", "benchout");
  auto sets = ReadLabelSets(f.positional[0], *metrics);
  if (!sets.ok()) {
    err << "tidemark: " << sets.status().message() << "\n";
    return 2;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  tsdb::DbOptions o;
  o.dir = dir + "/storage";
  o.out_of_bounds = std::chrono::hours(24 * 365 * 100);  // The workload's timestamps start in 1970.
  o.retention = std::chrono::hours(24 * 365 * 100);
  o.min_free_bytes = 0;
  const std::string compaction = f.Get("compaction", "off");
  if (compaction != "off" && compaction != "on") {
    err << "tidemark: --compaction: expected off or on, got \"" << compaction << "\"\n";
    return 2;
  }
  o.background_compaction = compaction == "on";
  auto db = tsdb::Db::Open(o, SystemClock::Instance());
  if (!db.ok()) {
    err << "tidemark: " << db.status().message() << "\n";
    return 1;
  }
  out << ">> start stage=ingestScrapes series=" << sets->size() << " threads=" << *threads
      << " compaction=" << compaction << "\n";
  constexpr int64_t kTimeDelta = 30000;
  const size_t n = sets->size();
  std::atomic<uint64_t> total{0};
  std::atomic<bool> failed{false};
  auto start = std::chrono::steady_clock::now();
  for (uint64_t round = 0; round < *scrapes; round += 100) {
    // promtool: one goroutine per 1000-series batch, each appending 100 scrapes, refs looked up
    // by labels on the first scrape of the round and reused after.
    std::atomic<size_t> next_batch{0};
    auto worker = [&] {
      for (;;) {
        size_t b = next_batch.fetch_add(1);
        size_t lo = b * 1000;
        if (lo >= n) return;
        size_t hi = std::min(n, lo + 1000);
        std::vector<tsdb::SeriesRef> refs(hi - lo, 0);
        std::vector<int64_t> values(hi - lo, 123456789);
        int64_t ts = kTimeDelta * static_cast<int64_t>(round);
        uint64_t local = 0;
        for (int s = 0; s < 100; ++s) {
          auto app = (*db)->NewAppender();
          ts += kTimeDelta;
          for (size_t i = lo; i < hi; ++i) {
            int64_t& v = values[i - lo];
            v += 1000;
            if (refs[i - lo] == 0) {
              refs[i - lo] = app.Add((*sets)[i], ts, static_cast<double>(v));
            } else {
              app.AddRef(refs[i - lo], ts, static_cast<double>(v));
            }
            ++local;
          }
          if (!app.Commit().ok()) {
            failed = true;
            return;
          }
        }
        total += local;
      }
    };
    std::vector<std::thread> pool;
    for (uint64_t t = 0; t < *threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
    if (failed) {
      err << "tidemark: a commit failed during the benchmark\n";
      return 1;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out << ">> completed stage=ingestScrapes duration=" << secs << "s\n";
  out << " > total samples: " << total.load() << "\n";
  out << " > samples/sec: " << static_cast<double>(total.load()) / secs << "\n";
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  out << " > max RSS MiB: " << ru.ru_maxrss / 1024 << "\n";
  out << " > head series: " << (*db)->Stats().series << "\n";
  if (f.Get("exit-without-close") == "true") {
    out.flush();
    _exit(0);  // Like kill -9: no checkpoint, RocksDB not closed.
  }
  return 0;
}

int Import(const Flags& f, std::ostream& out, std::ostream& err) {
  std::string file = f.Get("openmetrics");
  std::string dir = f.Get("data-dir");
  if (file.empty() || dir.empty()) {
    err << "tidemark: import needs --openmetrics FILE and --data-dir DIR\n";
    return 2;
  }
  auto text = ReadFile(file);
  if (!text.ok()) {
    err << "tidemark: " << text.status().message() << "\n";
    return 2;
  }
  auto db = OpenOffline(dir, err);
  if (!db) return 1;
  auto start = std::chrono::steady_clock::now();
  auto app = db->NewAppender();
  uint64_t parsed = 0, accepted = 0, rejected = 0;
  auto commit = [&]() -> Status {
    auto r = app.Commit();
    if (!r.ok()) return r.status();
    accepted += r->accepted;
    rejected += r->out_of_order + r->duplicates + r->too_old + r->refused;
    return Status::Ok();
  };
  Status st = ParseExposition(*text, TextFormat::kOpenMetrics, [&](ParsedSample& s) -> Status {
    if (!s.timestamp_ms) {
      return Status::InvalidArgument("sample without a timestamp (import needs them)");
    }
    app.Add(s.labels, *s.timestamp_ms, s.value);
    ++parsed;
    if (app.pending() >= 20000) return commit();
    return Status::Ok();
  });
  if (st.ok()) st = commit();
  if (st.ok()) st = db->Compact();
  if (!st.ok()) {
    err << "tidemark: " << file << ": " << st.message() << "\n";
    return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out << "imported " << accepted << " of " << parsed << " samples (" << rejected
      << " rejected) into " << db->Stats().series << " series in " << secs << " s\n";
  return 0;
}

int StatsOrVerify(const Flags& f, bool verify, std::ostream& out, std::ostream& err) {
  std::string dir = f.Get("data-dir");
  if (dir.empty()) {
    err << "tidemark: needs --data-dir DIR\n";
    return 2;
  }
  if (!std::filesystem::exists(dir + "/CURRENT")) {
    err << "tidemark: " << dir << " is not a tidemark store (no CURRENT file)\n";
    return 2;
  }
  auto db = OpenOffline(dir, err);
  if (!db) return 1;
  std::vector<std::string> problems;
  auto samples = db->Verify(&problems);
  if (!samples.ok()) {
    err << "tidemark: " << samples.status().message() << "\n";
    return 1;
  }
  tsdb::DbStats st = db->Stats();
  uint64_t bytes = db->DiskBytes();
  if (verify) {
    for (const std::string& p : problems) out << "problem: " << p << "\n";
    out << (problems.empty() ? "OK: " : "DAMAGED: ") << st.series << " series, " << *samples
        << " samples, " << problems.size() << " problems\n";
    return problems.empty() ? 0 : 1;
  }
  out << "open: " << st.replayed_samples << " samples replayed from the log; open took "
      << st.replay_seconds << " s\n";
  out << "series: " << st.series << "\n"
      << "samples: " << *samples << "\n"
      << "bytes on disk: " << bytes << "\n"
      << "bytes per sample: " << (*samples ? static_cast<double>(bytes) / *samples : 0) << "\n";
  return 0;
}

}  // namespace

Result<std::unique_ptr<tsdb::Db>> OpenOfflineStore(const std::string& dir) {
  tsdb::DbOptions o;
  o.dir = dir;
  o.out_of_bounds = std::chrono::hours(24 * 365 * 100);
  o.retention = std::chrono::hours(24 * 365 * 100);
  return tsdb::Db::Open(o, SystemClock::Instance());
}

int RunTsdbCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    (args.empty() ? err : out) << kUsage;
    return args.empty() ? 2 : 0;
  }
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      out << kUsage;
      return 0;
    }
  }
  const std::string& cmd = args[0];
  Result<Flags> f = Status::InvalidArgument("unknown tsdb command \"" + cmd + "\"");
  if (cmd == "bench-write") {
    f = ParseFlags(args, 1,
                   {"metrics", "scrapes", "out", "threads", "exit-without-close", "compaction"});
  }
  if (cmd == "import") f = ParseFlags(args, 1, {"openmetrics", "data-dir"});
  if (cmd == "stats" || cmd == "verify") f = ParseFlags(args, 1, {"data-dir"});
  if (!f.ok()) {
    err << "tidemark: " << f.status().message() << "\n\n" << kUsage;
    return 2;
  }
  if (cmd == "bench-write") return BenchWrite(*f, out, err);
  if (cmd == "import") return Import(*f, out, err);
  return StatsOrVerify(*f, cmd == "verify", out, err);
}

}  // namespace tidemark::agent
