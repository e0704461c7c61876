#include "tsdb/matcher.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <string>
#include <vector>

namespace tidemark::tsdb {
namespace {

Matcher Make(MatchType type, std::string value) {
  Result<Matcher> m = Matcher::Create(type, "l", std::move(value));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return *m;
}

struct MatchCase {
  MatchType type;
  std::string pattern;
  std::string value;  // "" stands for an absent label too
  bool want;
};

constexpr MatchType kEq = MatchType::kEqual;
constexpr MatchType kNeq = MatchType::kNotEqual;
constexpr MatchType kRe = MatchType::kRegexMatch;
constexpr MatchType kNre = MatchType::kRegexNoMatch;

TEST(MatcherTest, FollowsPrometheusSemantics) {
  const std::vector<MatchCase> cases = {
      // Equality; an absent label is "".
      {kEq, "foo", "foo", true},
      {kEq, "foo", "foobar", false},
      {kEq, "foo", "", false},
      {kEq, "", "", true},
      {kEq, "", "a", false},
      {kNeq, "", "", false},
      {kNeq, "", "a", true},
      {kNeq, "foo", "", true},
      {kNeq, "foo", "foo", false},
      // Regexes are fully anchored.
      {kRe, "foo", "foo", true},
      {kRe, "foo", "foobar", false},
      {kRe, "foo", "xfoo", false},
      {kRe, "foo", "", false},
      {kRe, "foo|bar.*", "foo", true},
      {kRe, "foo|bar.*", "barx", true},
      {kRe, "foo|bar.*", "foox", false},
      {kRe, "a.*b", "axxb", true},
      {kRe, "a.*b", "axx", false},
      {kRe, "^foo$", "foo", true},
      {kRe, "[0-9]+", "123", true},
      {kRe, "[0-9]+", "12a", false},
      {kRe, "\\d+", "42", true},
      // .* and .+ and the empty string.
      {kRe, ".*", "", true},
      {kRe, ".*", "anything", true},
      {kRe, ".+", "", false},
      {kRe, ".+", "a", true},
      {kNre, ".*", "", false},
      {kNre, ".*", "x", false},
      {kNre, ".+", "", true},
      {kNre, ".+", "x", false},
      // Dot does not match newline (Prometheus 2.x).
      {kRe, ".*", "a\nb", false},
      {kRe, ".+", "\n", false},
      {kRe, "a.c", "a\nc", false},
      {kRe, "a.*", "a\n", false},
      {kRe, "(?s)a.*", "a\n", true},
      // Prefix / suffix / contains fast paths.
      {kRe, "foo.*", "foo", true},
      {kRe, "foo.*", "foobar", true},
      {kRe, "foo.*", "xfoo", false},
      {kRe, "foo.+", "foo", false},
      {kRe, "foo.+", "foox", true},
      {kRe, ".*foo", "xfoo", true},
      {kRe, ".*foo", "foo", true},
      {kRe, ".*foo", "foox", false},
      {kRe, ".+foo", "foo", false},
      {kRe, ".+foo", "xfoo", true},
      {kRe, ".*foo.*", "afoob", true},
      {kRe, ".*foo.*", "fo", false},
      {kRe, ".+foo.+", "foo", false},
      {kRe, ".+foo.+", "afoo", false},
      {kRe, ".+foo.+", "foofoo", false},
      {kRe, ".+foo.+", "foofoox", true},
      {kRe, "(.*)", "x", true},
      {kRe, "(?:foo.*)", "foox", true},
      {kRe, "a\\.b.*", "a.bc", true},
      {kRe, "a\\.b.*", "axbc", false},
      {kRe, "a\\.*", "a...", true},  // `\.*` is a repeated dot, not a wildcard
      {kRe, "a\\.*", "ab", false},
      {kRe, ".+.+", "\xc3\xa9", false},  // two characters needed, "é" is one
      {kRe, ".+.+", "ab", true},
      {kRe, "é.+", "éa", true},
      // Alternations of literals.
      {kRe, "a|b|c", "b", true},
      {kRe, "a|b|c", "ab", false},
      {kRe, "a|b|c", "", false},
      {kRe, "(a|b)", "a", true},
      {kRe, "(a|b)", "(a", false},
      {kRe, "a|", "", true},
      {kRe, "a|", "a", true},
      {kRe, "", "", true},
      {kRe, "", "a", false},
      {kRe, "a\\|b", "a|b", true},
      {kRe, "a\\|b", "a", false},
      {kNre, "a|b", "a", false},
      {kNre, "a|b", "c", true},
      {kNre, "a|b", "", true},
      {kNre, "foo", "foobar", true},
      // Flags.
      {kRe, "(?i)foo", "FoO", true},
      {kRe, "(?i)foo", "foobar", false},
      {kRe, "(?i)a|b", "B", true},
  };
  for (const MatchCase& c : cases) {
    Matcher m = Make(c.type, c.pattern);
    EXPECT_EQ(m.Matches(c.value), c.want) << m.ToString() << " on \"" << c.value << "\"";
    EXPECT_EQ(m.matches_empty(), m.Matches("")) << m.ToString();
  }
}

TEST(MatcherTest, FastPathsAgreeWithRe2) {
  const std::vector<std::string> patterns = {
      "foo",         "foo|bar", "(foo|bar)", "foo.*", ".*foo", ".*foo.*", ".+foo",
      "foo.+",       ".+foo.+", ".*",        ".+",    "(.*)",  "(?:.+)",  "a\\.b",
      "a\\.b|c\\-d", "",        "|x",        "x|",    "é.*",   ".*\\.",   "a.b",
  };
  const std::vector<std::string> values = {
      "",  "foo", "bar", "foobar", "barfoo", "xfoox", "fo",   "f",  "foofoo",   "a.b", "axb", "c-d",
      "x", "é",   "éé",  "\n",     "foo\n",  "\nfoo", "a\nb", "a.", "foo\nbar",
  };
  RE2::Options opts;
  opts.set_dot_nl(false);
  for (const std::string& p : patterns) {
    RE2 ref("^(?:" + p + ")$", opts);
    ASSERT_TRUE(ref.ok()) << p;
    Matcher m = Make(kRe, p);
    Matcher n = Make(kNre, p);
    for (const std::string& v : values) {
      bool want = RE2::PartialMatch(v, ref);
      EXPECT_EQ(m.Matches(v), want) << "=~\"" << p << "\" on \"" << v << "\"";
      EXPECT_EQ(n.Matches(v), !want) << "!~\"" << p << "\" on \"" << v << "\"";
    }
  }
}

TEST(MatcherTest, ExposesLiteralSets) {
  ASSERT_NE(Make(kEq, "x").literal_set(), nullptr);
  EXPECT_EQ(*Make(kEq, "x").literal_set(), std::vector<std::string>{"x"});
  ASSERT_NE(Make(kRe, "(b|a|b)").literal_set(), nullptr);
  EXPECT_EQ(*Make(kRe, "(b|a|b)").literal_set(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*Make(kNre, "a\\.b").literal_set(), std::vector<std::string>{"a.b"});
  EXPECT_EQ(Make(kRe, "a.*").literal_set(), nullptr);
  EXPECT_EQ(Make(kRe, "(?i)a").literal_set(), nullptr);
  EXPECT_EQ(Make(kRe, "(a)|(b)").literal_set(), nullptr);
}

TEST(MatcherTest, RejectsBadRegexWithRe2Error) {
  for (MatchType t : {kRe, kNre}) {
    Result<Matcher> m = Matcher::Create(t, "l", "(foo");
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find("missing )"), std::string::npos) << m.status().message();
    EXPECT_NE(m.status().message().find("(foo"), std::string::npos) << m.status().message();
  }
  EXPECT_FALSE(Matcher::Create(kRe, "l", "a**").ok());
  EXPECT_FALSE(Matcher::Create(kRe, "l", "[z-a]").ok());
  // Not regexes: anything goes.
  EXPECT_TRUE(Matcher::Create(kEq, "l", "(foo").ok());
  EXPECT_TRUE(Matcher::Create(kNeq, "l", "[").ok());
}

TEST(MatcherTest, CopiesShareTheCompiledRegex) {
  Matcher a = Make(kRe, "x[0-9]+");
  Matcher b = a;
  EXPECT_TRUE(b.Matches("x12"));
  EXPECT_FALSE(b.Matches("x"));
  EXPECT_EQ(b.name(), "l");
  EXPECT_EQ(b.value(), "x[0-9]+");
  EXPECT_EQ(b.type(), kRe);
}

TEST(MatcherTest, RendersAsPromql) {
  EXPECT_EQ(Make(kEq, "a").ToString(), "l=\"a\"");
  EXPECT_EQ(Make(kNeq, "a").ToString(), "l!=\"a\"");
  EXPECT_EQ(Make(kRe, "a\"b\\.c").ToString(), "l=~\"a\\\"b\\\\.c\"");
  EXPECT_EQ(Make(kNre, "").ToString(), "l!~\"\"");
}

}  // namespace
}  // namespace tidemark::tsdb
