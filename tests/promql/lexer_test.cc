#include "tsdb/promql/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tidemark::promql {
namespace {

using T = TokenType;

struct Lexed {
  std::vector<T> types;
  std::vector<std::string> texts;
  std::vector<int> positions;
  std::string error;
};

Lexed Lex(std::string_view input) {
  Lexer lexer(input);
  Lexed out;
  for (int i = 0; i < 1000; ++i) {
    Token t = lexer.Next();
    if (t.type == T::kEof) break;
    out.types.push_back(t.type);
    out.texts.emplace_back(t.text);
    out.positions.push_back(t.pos);
    if (t.type == T::kError) {
      out.error = lexer.error();
      break;
    }
  }
  return out;
}

TEST(LexerTest, SplitsASelectorWithModifiers) {
  Lexed l = Lex(R"(rate(x{a="b",c=~'d'}[5m:1m] offset -1h @ start()))");
  EXPECT_EQ(
      l.types,
      (std::vector<T>{
          T::kIdentifier, T::kLeftParen,    T::kIdentifier,  T::kLeftBrace,  T::kIdentifier,
          T::kAssign,     T::kString,       T::kComma,       T::kIdentifier, T::kEqlRegex,
          T::kString,     T::kRightBrace,   T::kLeftBracket, T::kDuration,   T::kColon,
          T::kDuration,   T::kRightBracket, T::kOffset,      T::kSub,        T::kDuration,
          T::kAt,         T::kStart,        T::kLeftParen,   T::kRightParen, T::kRightParen}));
  EXPECT_EQ(l.texts[6], "\"b\"");
  EXPECT_EQ(l.texts[10], "'d'");
  EXPECT_EQ(l.texts[13], "5m");
  EXPECT_EQ(l.positions[13], 21);
  EXPECT_TRUE(l.error.empty());
}

TEST(LexerTest, RecognizesKeywordsCaseInsensitively) {
  Lexed l =
      Lex("SUM By without ON Ignoring group_left GROUP_RIGHT bool OFFSET and OR unless "
          "atan2 count_values Inf nan start END");
  EXPECT_EQ(l.types, (std::vector<T>{T::kSum, T::kBy, T::kWithout, T::kOn, T::kIgnoring,
                                     T::kGroupLeft, T::kGroupRight, T::kBool, T::kOffset, T::kLand,
                                     T::kLor, T::kLunless, T::kAtan2, T::kCountValues, T::kNumber,
                                     T::kNumber, T::kStart, T::kEnd}));
  EXPECT_EQ(l.texts[0], "SUM");  // Text keeps its spelling.
}

TEST(LexerTest, LexesIdentifiersAndMetricIdentifiers) {
  Lexed l = Lex("foo foo:bar :x _y Infinity inf:x");
  EXPECT_EQ(l.types, (std::vector<T>{T::kIdentifier, T::kMetricIdentifier, T::kMetricIdentifier,
                                     T::kIdentifier, T::kIdentifier, T::kMetricIdentifier}));
  // Inside braces every word is a plain identifier, keywords included.
  l = Lex("{on=\"x\", by!=\"y\"}");
  EXPECT_EQ(l.types[1], T::kIdentifier);
  EXPECT_EQ(l.types[5], T::kIdentifier);
}

TEST(LexerTest, LexesNumbersAndDurations) {
  Lexed l = Lex("1 1.5 .5 5. 1e3 1E-3 0x1F 017 5m 1h30m 100ms 1y2w 0x1E+5");
  EXPECT_EQ(l.types, (std::vector<T>{T::kNumber, T::kNumber, T::kNumber, T::kNumber, T::kNumber,
                                     T::kNumber, T::kNumber, T::kNumber, T::kDuration, T::kDuration,
                                     T::kDuration, T::kDuration, T::kNumber, T::kAdd, T::kNumber}));
  EXPECT_EQ(l.texts[12], "0x1E");  // 'E' is a hex digit, so "+5" is a separate operand.
}

TEST(LexerTest, LexesOperators) {
  Lexed l = Lex("+ - * / % ^ == != <= < >= > =");
  EXPECT_EQ(l.types, (std::vector<T>{T::kAdd, T::kSub, T::kMul, T::kDiv, T::kMod, T::kPow, T::kEqlc,
                                     T::kNeq, T::kLte, T::kLss, T::kGte, T::kGtr, T::kAssign}));
}

TEST(LexerTest, ReturnsCommentsAndSkipsWhitespace) {
  Lexed l = Lex("x # note\r\n\t+ y#end");
  EXPECT_EQ(l.types,
            (std::vector<T>{T::kIdentifier, T::kComment, T::kAdd, T::kIdentifier, T::kComment}));
  EXPECT_EQ(l.texts[1], "# note");
}

TEST(LexerTest, LexesAnyLetterInsideBracketsAsTheSubqueryColon) {
  // A quirk of Prometheus' lexer: `x[5m f]` is `x[5m:]`.
  Lexed l = Lex("x[5m f]");
  EXPECT_EQ(l.types, (std::vector<T>{T::kIdentifier, T::kLeftBracket, T::kDuration, T::kColon,
                                     T::kRightBracket}));
  EXPECT_EQ(Lex("x[5m:1m:]").error, "unexpected colon ':'");
}

TEST(LexerTest, ReportsPrometheusLexerErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"sum(x", "unclosed left parenthesis"},
      {"x)", "unexpected right parenthesis ')'"},
      {"x[5m", "unclosed left bracket"},
      {"x]", "unexpected right bracket ']'"},
      {"x[[", "missing unit character in duration"},
      {"x[5]", "missing unit character in duration"},
      {"x[foo]", "bad duration syntax: \"\""},
      {"x[5d5]", "bad duration syntax: \"5d5\""},
      {"1mm", "bad number or duration syntax: \"1mm\""},
      {"1a", "bad number or duration syntax: \"1\""},
      {"x =~ y", "unexpected character after '=': '~'"},
      {"x ! y", "unexpected character after '!': ' '"},
      {"x ;", "unexpected character: ';'"},
      {"x }", "unexpected character: '}'"},
      {"\xc3\xa9", "unexpected character: '\xc3\xa9'"},
      {"{a", "unexpected end of input inside braces"},
      {"{a!b}", "unexpected character after '!' inside braces: 'b'"},
      {"{{", "unexpected left brace '{'"},
      {"{1}", "unexpected character inside braces: '1'"},
      {"\"abc", "unterminated quoted string"},
      {"\"a\nb\"", "unterminated quoted string"},
      {"`abc", "unterminated raw string"},
      {"\"\\q\"", "unknown escape sequence U+0071 'q'"},
      {"\"\\x4\"", "illegal character U+0022 '\"' in escape sequence"},
      {"\"\\u12", "escape sequence not terminated"},
      {"\"\\", "escape sequence not terminated"},
      {"\"\\ud800\"", "escape sequence is an invalid Unicode code point"},
      {"\"\\400\"", "escape sequence is an invalid Unicode code point"},
      {"\"\xff\"", "invalid UTF-8 rune"},
      {"'\\\"'", "unknown escape sequence U+0022 '\"'"},
  };
  for (const auto& [in, want] : cases) {
    Lexed l = Lex(in);
    ASSERT_FALSE(l.types.empty()) << in;
    EXPECT_EQ(l.types.back(), T::kError) << in;
    EXPECT_EQ(l.error, want) << in;
  }
}

TEST(LexerTest, PointsErrorsWherePrometheusDoes) {
  EXPECT_EQ(Lex("sum(rate(").positions.back(), 9);     // At the end of input.
  EXPECT_EQ(Lex("1)").positions.back(), 2);            // After the parenthesis.
  EXPECT_EQ(Lex("x ]").positions.back(), 2);           // At the bracket.
  EXPECT_EQ(Lex("x{a=\"\\q\"}").positions.back(), 4);  // At the string's start.
}

TEST(LexerTest, KeepsReturningEofAfterAnError) {
  Lexer lexer("x)");
  EXPECT_EQ(lexer.Next().type, T::kIdentifier);
  EXPECT_EQ(lexer.Next().type, T::kError);  // The unbalanced ')' itself is never returned.
  EXPECT_EQ(lexer.Next().type, T::kEof);
  EXPECT_EQ(lexer.Next().type, T::kEof);
}

TEST(LexerTest, DescribesTokensAsPrometheusDoes) {
  auto describe = [](T type, std::string_view text) { return DescribeToken(Token{type, 0, text}); };
  EXPECT_EQ(describe(T::kEof, ""), "end of input");
  EXPECT_EQ(describe(T::kIdentifier, "foo"), "identifier \"foo\"");
  EXPECT_EQ(describe(T::kMetricIdentifier, "a:b"), "metric identifier \"a:b\"");
  EXPECT_EQ(describe(T::kNumber, "1"), "number \"1\"");
  EXPECT_EQ(describe(T::kDuration, "1d2h3m4s5ms"), "duration \"1d2h3m4s5m\"...");
  EXPECT_EQ(describe(T::kString, "\"abc\""), "string \"\\\"abc\\\"\"");
  EXPECT_EQ(describe(T::kLeftParen, "("), "\"(\"");
  EXPECT_EQ(describe(T::kAssign, "="), "\"=\"");
  EXPECT_EQ(describe(T::kAdd, "+"), "<op:+>");
  EXPECT_EQ(describe(T::kLand, "and"), "<op:and>");
  EXPECT_EQ(describe(T::kSum, "sum"), "<aggr:sum>");
  EXPECT_EQ(describe(T::kBy, "by"), "<by>");
  EXPECT_EQ(describe(T::kStart, "start"), "\"start\"");
  EXPECT_EQ(describe(T::kAt, "@"), "\"<Item 57385>\" <op:@>");
}

}  // namespace
}  // namespace tidemark::promql
