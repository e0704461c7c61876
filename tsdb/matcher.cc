#include "tsdb/matcher.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "common/labels.h"

namespace tidemark::tsdb {
namespace {

// `.` does not match `\n`, as in Prometheus 2.x, the peer this project is tested against
// (Prometheus 3.0 changed it, prometheus#14505). Both settings are handled below.
constexpr bool kDotMatchesNewline = false;

bool IsRegexMeta(char c) { return std::strchr("\\.+*?()|[]{}^$", c) != nullptr && c != '\0'; }

// Decodes a regex that is a plain literal (escaped punctuation allowed, e.g. `a\.b`) into *out.
// False for anything else, including escapes such as `\d` or `\n`.
bool ParseLiteral(std::string_view re, std::string* out) {
  out->clear();
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\') {
      if (i + 1 == re.size()) return false;
      char e = re[++i];
      bool punct =
          static_cast<unsigned char>(e) < 0x80 && std::ispunct(static_cast<unsigned char>(e));
      if (!punct) return false;
      out->push_back(e);
    } else if (IsRegexMeta(c)) {
      return false;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

// Strips one enclosing `(…)` or `(?:…)`. Whether the parentheses really pair up is left to the
// caller's literal parsing, which rejects any unescaped parenthesis that remains.
std::string_view StripGroup(std::string_view re) {
  if (re.size() >= 2 && re.front() == '(' && re.back() == ')' && re[re.size() - 2] != '\\') {
    re = re.substr(1, re.size() - 2);
    if (re.starts_with("?:")) re.remove_prefix(2);
  }
  return re;
}

// `a|b|c` (optionally grouped) → {a, b, c} sorted and unique.
bool ParseLiteralSet(std::string_view re, std::vector<std::string>* out) {
  re = StripGroup(re);
  out->clear();
  size_t start = 0;
  std::string lit;
  for (size_t i = 0; i <= re.size(); ++i) {
    if (i < re.size() && re[i] == '\\') {
      if (++i == re.size()) return false;
      continue;
    }
    if (i == re.size() || re[i] == '|') {
      if (!ParseLiteral(re.substr(start, i - start), &lit)) return false;
      out->push_back(lit);
      start = i + 1;
    }
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return true;
}

}  // namespace

// How a regex that is not a literal set is evaluated: `[.*|.+] literal [.*|.+]` is done with
// string search, anything else with RE2.
struct Matcher::Plan {
  enum class Wild { kNone, kAny, kSome };  // nothing, `.*`, `.+`

  Wild left = Wild::kNone;
  Wild right = Wild::kNone;
  std::string literal;
  bool affix = false;
  std::unique_ptr<re2::RE2> re;  // Compiled `^(?:value)$`; always set.

  bool Matches(std::string_view v) const {
    if (affix && (kDotMatchesNewline || v.find('\n') == std::string_view::npos)) {
      size_t min_start = left == Wild::kSome ? 1 : 0;
      size_t min_tail = right == Wild::kSome ? 1 : 0;
      if (left == Wild::kNone) {
        return v.starts_with(literal) && v.size() >= literal.size() + min_tail;
      }
      if (right == Wild::kNone) {
        return v.ends_with(literal) && v.size() >= literal.size() + min_start;
      }
      size_t p = v.find(literal, min_start);
      return p != std::string_view::npos && p + literal.size() + min_tail <= v.size();
    }
    return RE2::PartialMatch(re2::StringPiece(v.data(), v.size()), *re);
  }

  // Recognizes `.*foo`, `foo.+`, `.*foo.*`, `.*`, `.+`, … (optionally grouped).
  void ParseAffix(std::string_view s) {
    s = StripGroup(s);
    if (s.starts_with(".*") || s.starts_with(".+")) {
      left = s[1] == '*' ? Wild::kAny : Wild::kSome;
      s.remove_prefix(2);
    }
    if (s.ends_with(".*") || s.ends_with(".+")) {
      right = s.back() == '*' ? Wild::kAny : Wild::kSome;
      s.remove_suffix(2);
    }
    if (left == Wild::kNone && right == Wild::kNone) return;
    // Two wildcards around nothing (`.+.+`) count characters, not bytes: leave it to RE2.
    if (left != Wild::kNone && right != Wild::kNone && s.empty()) return;
    affix = ParseLiteral(s, &literal);
  }
};

Result<Matcher> Matcher::Create(MatchType type, std::string name, std::string value) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (type == MatchType::kEqual || type == MatchType::kNotEqual) {
    m.literals_ = std::make_shared<const std::vector<std::string>>(1, m.value_);
  } else {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_dot_nl(kDotMatchesNewline);
    auto plan = std::make_shared<Plan>();
    plan->re = std::make_unique<re2::RE2>("^(?:" + m.value_ + ")$", opts);
    if (!plan->re->ok()) {
      // Report the error against the user's pattern rather than the anchored wrapper.
      re2::RE2 raw(m.value_, opts);
      const std::string& err = raw.ok() ? plan->re->error() : raw.error();
      return Status::InvalidArgument("invalid regular expression \"" + m.value_ + "\": " + err);
    }
    std::vector<std::string> set;
    if (ParseLiteralSet(m.value_, &set)) {
      m.literals_ = std::make_shared<const std::vector<std::string>>(std::move(set));
    } else {
      plan->ParseAffix(m.value_);
      m.plan_ = std::move(plan);
    }
  }
  m.matches_empty_ = m.Matches("");
  return m;
}

bool Matcher::PositiveMatches(std::string_view value) const {
  if (literals_ != nullptr) {
    const auto& l = *literals_;
    if (l.size() <= 8) return std::find(l.begin(), l.end(), value) != l.end();
    return std::binary_search(l.begin(), l.end(), value);
  }
  return plan_->Matches(value);
}

bool Matcher::Matches(std::string_view value) const {
  switch (type_) {
    case MatchType::kEqual:
      return value == value_;
    case MatchType::kNotEqual:
      return value != value_;
    case MatchType::kRegexMatch:
      return PositiveMatches(value);
    case MatchType::kRegexNoMatch:
      return !PositiveMatches(value);
  }
  return false;
}

std::string Matcher::ToString() const {
  static constexpr std::string_view kOps[] = {"=", "!=", "=~", "!~"};
  std::string out = name_;
  out += kOps[static_cast<int>(type_)];
  out += '"';
  AppendEscapedLabelValue(value_, &out);
  out += '"';
  return out;
}

}  // namespace tidemark::tsdb
