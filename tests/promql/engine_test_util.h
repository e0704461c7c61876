// Test helpers for the PromQL engine: a real Db in a temporary directory loaded with promtool's
// series notation ("0+3x6 _ stale"), and a runner for Prometheus-style test scripts
// (tests/promql/testdata/*.test: `load`, `eval instant at`, `eval_fail`, `clear`).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/testing/testing.h"
#include "tsdb/db.h"
#include "tsdb/promql/engine.h"
#include "tsdb/promql/internal/eval.h"
#include "tsdb/promql/parser.h"

namespace tidemark::promql::testutil {

// "1m30s", "100s", "250ms", "-5m" → milliseconds. Aborts the test on garbage.
inline int64_t ParseDurationMs(std::string_view s) {
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    int64_t n = 0;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') n = n * 10 + (s[i++] - '0');
    EXPECT_GT(i, start) << "bad duration " << s;
    if (i == start) return 0;
    std::string unit;
    while (i < s.size() && !(s[i] >= '0' && s[i] <= '9')) unit += s[i++];
    int64_t mult = unit == "ms"  ? 1
                   : unit == "s" ? 1000
                   : unit == "m" ? 60000
                   : unit == "h" ? 3600000
                   : unit == "d" ? 86400000
                   : unit == "w" ? 604800000
                                 : -1;
    EXPECT_GT(mult, 0) << "bad duration unit in " << s;
    total += n * mult;
  }
  return neg ? -total : total;
}

inline bool ParseNumber(std::string_view tok, double* out) {
  std::string t(tok);
  if (t == "NaN" || t == "nan") {
    *out = std::nan("");
    return true;
  }
  if (t == "Inf" || t == "+Inf" || t == "inf" || t == "+inf") {
    *out = HUGE_VAL;
    return true;
  }
  if (t == "-Inf" || t == "-inf") {
    *out = -HUGE_VAL;
    return true;
  }
  char* end = nullptr;
  *out = std::strtod(t.c_str(), &end);
  return end == t.c_str() + t.size() && !t.empty();
}

struct SeqValue {
  bool omitted = false;
  double v = 0;
};

// promtool's series values: `a`, `a+bxn`, `a-bxn` (n + 1 values, accumulated), `axn`, `_`,
// `_xn` (n blanks), `stale`.
inline std::vector<SeqValue> ExpandValues(std::string_view values) {
  std::vector<SeqValue> out;
  std::istringstream in{std::string(values)};
  std::string tok;
  while (in >> tok) {
    if (tok == "_") {
      out.push_back({true, 0});
      continue;
    }
    if (tok.rfind("_x", 0) == 0) {
      int n = std::stoi(tok.substr(2));
      for (int i = 0; i < n; ++i) out.push_back({true, 0});
      continue;
    }
    if (tok == "stale") {
      out.push_back({false, tsdb::StaleNaN()});
      continue;
    }
    size_t x = tok.rfind('x');
    if (x != std::string::npos && x > 0) {
      const int n = std::stoi(tok.substr(x + 1));
      std::string head = tok.substr(0, x);
      // Split a+b / a-b at a sign that is not the leading one or an exponent's.
      size_t op = std::string::npos;
      for (size_t i = 1; i < head.size(); ++i) {
        if ((head[i] == '+' || head[i] == '-') && head[i - 1] != 'e' && head[i - 1] != 'E') {
          op = i;
          break;
        }
      }
      double a = 0, b = 0;
      if (op == std::string::npos) {
        EXPECT_TRUE(ParseNumber(head, &a)) << tok;
      } else {
        EXPECT_TRUE(ParseNumber(head.substr(0, op), &a)) << tok;
        EXPECT_TRUE(ParseNumber(head.substr(op + 1), &b)) << tok;
        if (head[op] == '-') b = -b;
      }
      for (int i = 0; i <= n; ++i) {
        out.push_back({false, a});
        a += b;
      }
      continue;
    }
    double v = 0;
    EXPECT_TRUE(ParseNumber(tok, &v)) << "bad value " << tok;
    out.push_back({false, v});
  }
  return out;
}

// `name{a="b"}` or `{__name__="x", a="b"}` or `{}` → a sorted label set.
inline Labels ParseLabels(std::string_view desc) {
  Labels out;
  if (desc == "{}") return out;
  auto e = ParseExpr(desc);
  EXPECT_TRUE(e.ok()) << desc << ": " << e.status().ToString();
  if (!e.ok()) return out;
  const auto* vs = dynamic_cast<const VectorSelector*>(e->get());
  EXPECT_NE(vs, nullptr) << desc;
  if (vs == nullptr) return out;
  for (const tsdb::Matcher& m : vs->matchers) out.push_back(Label{m.name(), m.value()});
  std::sort(out.begin(), out.end(), [](const Label& a, const Label& b) { return a.name < b.name; });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A Db in a temporary directory that accepts any timestamps in any order of series.
class TestStore {
 public:
  TestStore() {
    tsdb::DbOptions o;
    o.dir = dir_.path() + "/db";
    o.min_free_bytes = 0;
    o.out_of_bounds = std::chrono::hours(24 * 365 * 100);
    o.retention = std::chrono::hours(24 * 365 * 100);
    o.background_compaction = false;
    auto db = tsdb::Db::Open(o, clock_);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (db.ok()) db_ = std::move(*db);
  }
  tsdb::Db* db() { return db_.get(); }

  // Appends `values` (promtool notation) at 0, interval, 2·interval, … plus `start_ms`.
  void Load(std::string_view desc, std::string_view values, int64_t interval_ms,
            int64_t start_ms = 0) {
    Labels ls = ParseLabels(desc);
    auto seq = ExpandValues(values);
    auto app = db_->NewAppender();
    for (size_t i = 0; i < seq.size(); ++i) {
      if (seq[i].omitted) continue;
      app.Add(ls, start_ms + static_cast<int64_t>(i) * interval_ms, seq[i].v);
    }
    auto r = app.Commit();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->out_of_order + r->duplicates + r->too_old + r->refused, 0u) << desc;
  }
  void Add(std::string_view desc, int64_t t_ms, double v) {
    auto app = db_->NewAppender();
    app.Add(ParseLabels(desc), t_ms, v);
    ASSERT_TRUE(app.Commit().ok());
  }

 private:
  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<tsdb::Db> db_;
};

// Bitwise equality for numbers; any NaN equals any NaN.
inline bool SameFloat(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

inline std::string Render(const Labels& ls, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return internal::LabelsString(ls) + " " + buf;
}

// Runs a Prometheus-style test script. Expected lines are `<labels> <value>`; `eval_fail` cases
// may be followed by `error <message>`; a result's order is not compared unless `eval_ordered`.
inline void RunScript(const std::string& path, EngineOptions options = {}) {
  std::ifstream f(path);
  ASSERT_TRUE(f.good()) << path;
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  std::unique_ptr<TestStore> store;
  std::unique_ptr<Engine> engine;
  int64_t interval = 0;
  int cases = 0;
  auto indented = [&](size_t i) {
    return i < lines.size() && !lines[i].empty() && (lines[i][0] == ' ' || lines[i][0] == '\t');
  };
  auto trim = [](std::string s) {
    size_t a = s.find_first_not_of(" \t");
    size_t b = s.find_last_not_of(" \t\r");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = trim(lines[i]);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("load ", 0) == 0) {
      store = std::make_unique<TestStore>();
      engine = std::make_unique<Engine>(store->db(), options);
      interval = ParseDurationMs(trim(line.substr(5)));
      while (indented(i + 1)) {
        std::string def = trim(lines[++i]);
        if (def.empty() || def[0] == '#') continue;
        // The descriptor ends at the first space outside braces and quotes.
        size_t sp = 0;
        int depth = 0;
        bool quoted = false;
        for (; sp < def.size(); ++sp) {
          char c = def[sp];
          if (quoted) {
            if (c == '\\') {
              ++sp;
            } else if (c == '"') {
              quoted = false;
            }
            continue;
          }
          if (c == '"') quoted = true;
          if (c == '{') ++depth;
          if (c == '}') --depth;
          if (c == ' ' && depth == 0) break;
        }
        store->Load(def.substr(0, sp), sp < def.size() ? def.substr(sp + 1) : "", interval);
      }
      continue;
    }
    if (line == "clear") {
      store.reset();
      engine.reset();
      continue;
    }
    const bool fail = line.rfind("eval_fail instant at ", 0) == 0;
    const bool ordered = line.rfind("eval_ordered instant at ", 0) == 0;
    const bool plain = line.rfind("eval instant at ", 0) == 0;
    ASSERT_TRUE(fail || ordered || plain) << path << ":" << i + 1 << ": " << line;
    ASSERT_NE(engine, nullptr) << path << ":" << i + 1 << ": eval before load";
    std::string rest = line.substr(line.find(" at ") + 4);
    size_t sp = rest.find(' ');
    const int64_t t = ParseDurationMs(rest.substr(0, sp));
    const std::string expr = trim(rest.substr(sp + 1));
    SCOPED_TRACE(path + ":" + std::to_string(i + 1) + ": " + expr);
    ++cases;
    std::vector<std::pair<Labels, double>> want;
    std::string want_error;
    while (indented(i + 1)) {
      std::string exp = trim(lines[++i]);
      if (exp.empty() || exp[0] == '#') continue;
      if (exp.rfind("error ", 0) == 0) {
        want_error = exp.substr(6);
        continue;
      }
      size_t cut = exp.rfind(' ');
      double v = 0;
      EXPECT_TRUE(ParseNumber(exp.substr(cut + 1), &v)) << exp;
      want.emplace_back(ParseLabels(trim(exp.substr(0, cut))), v);
    }
    QueryResult r = engine->Instant(expr, t);
    if (fail) {
      EXPECT_FALSE(r.ok());
      if (!want_error.empty()) {
        EXPECT_EQ(r.error, want_error);
      }
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.error;
    std::vector<std::pair<Labels, double>> got;
    if (r.value.type == ValueType::kScalar) {
      got.emplace_back(Labels{}, r.value.scalar.v);
    } else {
      ASSERT_EQ(r.value.type, ValueType::kVector);
      for (const Sample& s : r.value.vector) {
        EXPECT_EQ(s.t, t);
        got.emplace_back(s.metric, s.v);
      }
    }
    auto by_labels = [](const auto& a, const auto& b) {
      return internal::CompareLabels(a.first, b.first) < 0;
    };
    if (!ordered) {
      std::sort(want.begin(), want.end(), by_labels);
      std::sort(got.begin(), got.end(), by_labels);
    }
    std::string want_s, got_s;
    for (auto& [l, v] : want) want_s += Render(l, v) + "\n";
    for (auto& [l, v] : got) got_s += Render(l, v) + "\n";
    bool same = want.size() == got.size();
    for (size_t k = 0; same && k < want.size(); ++k) {
      same = want[k].first == got[k].first && SameFloat(want[k].second, got[k].second);
    }
    EXPECT_TRUE(same) << "want:\n" << want_s << "got:\n" << got_s;
  }
  EXPECT_GT(cases, 0) << path;
}

inline std::string TestdataPath(const std::string& name) {
  return std::string(TIDEMARK_SOURCE_DIR) + "/tests/promql/testdata/" + name;
}

}  // namespace tidemark::promql::testutil
