// The PromQL lexer: Prometheus 2.42's promql/parser/lex.go state machine, hand-written without
// regexes or allocations per token. Used by the parser; exposed for tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tidemark::promql {

enum class TokenType : uint8_t {
  kError,  // Lexer error; Lexer::error() holds the message, the token's pos where it points.
  kEof,
  kComment,
  kIdentifier,
  kMetricIdentifier,
  kLeftParen,
  kRightParen,
  kLeftBrace,
  kRightBrace,
  kLeftBracket,
  kRightBracket,
  kComma,
  kAssign,  // `=` (EQL in Prometheus).
  kColon,
  kNumber,
  kString,
  kDuration,
  kAt,
  // Operators.
  kAdd,
  kSub,
  kMul,
  kMod,
  kDiv,
  kLand,
  kLor,
  kLunless,
  kEqlc,
  kNeq,
  kLte,
  kLss,
  kGte,
  kGtr,
  kEqlRegex,
  kNeqRegex,
  kPow,
  kAtan2,
  // Aggregators.
  kAvg,
  kBottomk,
  kCount,
  kCountValues,
  kGroup,
  kMax,
  kMin,
  kQuantile,
  kStddev,
  kStdvar,
  kSum,
  kTopk,
  // Keywords.
  kBool,
  kBy,
  kGroupLeft,
  kGroupRight,
  kIgnoring,
  kOffset,
  kOn,
  kWithout,
  // Preprocessors of the `@` modifier.
  kStart,
  kEnd,
};

bool IsOperatorToken(TokenType t);
bool IsAggregatorToken(TokenType t);
bool IsKeywordToken(TokenType t);

// One token; `text` points into the lexed input (for kError it is empty).
struct Token {
  TokenType type = TokenType::kEof;
  int pos = 0;  // Byte offset of the first character.
  std::string_view text;
};

// How Prometheus describes a token in "unexpected …" messages: `identifier "foo"`, `"("`,
// `<op:+>`, `<aggr:sum>`, `<by>`, `number "1"`, `end of input`.
std::string DescribeToken(const Token& token);

// Splits a query into tokens. Not thread-safe; cheap to construct. After a kError or kEof token,
// Next() keeps returning kEof.
class Lexer {
 public:
  explicit Lexer(std::string_view input) : input_(input) {}

  // The next token, comments included (kComment).
  Token Next();
  // The message of the last kError token, e.g. "unclosed left parenthesis".
  const std::string& error() const { return error_; }

 private:
  static constexpr int32_t kEofRune = -1;

  int32_t NextRune();
  int32_t PeekRune() const;
  void Backup() { pos_ -= width_; }
  bool Accept(std::string_view valid);
  void AcceptRun(std::string_view valid);
  Token Emit(TokenType type);
  Token Error(std::string message);

  bool ScanNumber();
  bool AcceptRemainingDuration();
  Token LexStatement();
  Token LexInsideBraces();
  Token LexNumberOrDuration();
  Token LexDuration();
  Token LexKeywordOrIdentifier();
  Token LexString();
  Token LexRawString();
  Token LexComment();
  // Validates one escape sequence after a backslash; false (with error_ set) on a bad one.
  bool LexEscape();

  std::string_view input_;
  size_t pos_ = 0;
  size_t start_ = 0;
  size_t width_ = 0;
  int paren_depth_ = 0;
  bool brace_open_ = false;
  bool bracket_open_ = false;
  bool got_colon_ = false;
  bool after_bracket_ = false;  // The next token is the duration right after `[`.
  bool done_ = false;
  int32_t string_open_ = 0;
  std::string error_;
};

}  // namespace tidemark::promql
