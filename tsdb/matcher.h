// Label matchers of PromQL selectors (`l="v"`, `l!="v"`, `l=~"re"`, `l!~"re"`) with Prometheus
// semantics: regexes are RE2, fully anchored, and an absent label has the value "".
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark::tsdb {

enum class MatchType { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

// One `name op value` matcher. Immutable and cheap to copy (a compiled regex is shared between
// copies). The class is thread-safe.
class Matcher {
 public:
  // Compiles `value` as `^(?:value)$` (RE2 syntax) for the regex types. InvalidArgument with the
  // RE2 error when the regex does not compile.
  static Result<Matcher> Create(MatchType type, std::string name, std::string value);

  // Whether a series whose label `name()` has `value` ("" when the label is absent) matches.
  bool Matches(std::string_view value) const;

  MatchType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  // Matches(""): true for matchers that also select series lacking the label. A selector needs
  // at least one matcher for which this is false.
  bool matches_empty() const { return matches_empty_; }
  // The finite set of values the matcher's positive form (`=` / `=~`) accepts, sorted and unique,
  // or nullptr when the set is not a plain list of literals (e.g. `=~"a.*"`). For the negative
  // types Matches(v) is !contains(v). Lets an index look postings up instead of scanning values.
  const std::vector<std::string>* literal_set() const { return literals_.get(); }
  // `name="value"`, `name!~"value"`, … with the value escaped as in the exposition format.
  std::string ToString() const;

 private:
  struct Plan;  // How a regex is evaluated (literal set, prefix/suffix, or RE2); in matcher.cc.

  Matcher() = default;
  bool PositiveMatches(std::string_view value) const;

  MatchType type_ = MatchType::kEqual;
  std::string name_;
  std::string value_;
  bool matches_empty_ = false;
  // Non-null for kEqual/kNotEqual and for regexes that are an alternation of literals.
  std::shared_ptr<const std::vector<std::string>> literals_;
  // Non-null for regexes that are not a literal set.
  std::shared_ptr<const Plan> plan_;
};

}  // namespace tidemark::tsdb
