#include "tsdb/promql/lexer.h"

#include <array>
#include <cstring>

#include "tsdb/promql/go_format.h"

namespace tidemark::promql {
namespace {

constexpr std::string_view kDecimal = "0123456789";
constexpr std::string_view kHexDigits = "0123456789abcdefABCDEF";

bool IsSpace(int32_t r) { return r == ' ' || r == '\t' || r == '\n' || r == '\r'; }
bool IsAlpha(int32_t r) { return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'); }
bool IsDigit(int32_t r) { return r >= '0' && r <= '9'; }
bool IsAlphaNumeric(int32_t r) { return IsAlpha(r) || IsDigit(r); }

uint32_t DigitValue(int32_t r) {
  if (r >= '0' && r <= '9') return static_cast<uint32_t>(r - '0');
  if (r >= 'a' && r <= 'f') return static_cast<uint32_t>(r - 'a' + 10);
  if (r >= 'A' && r <= 'F') return static_cast<uint32_t>(r - 'A' + 10);
  return 16;
}

struct Keyword {
  std::string_view word;
  TokenType type;
};

// Prometheus' `key` map, plus "inf" and "nan" which lex as numbers.
constexpr std::array<Keyword, 28> kKeywords = {{
    {"and", TokenType::kLand},
    {"or", TokenType::kLor},
    {"unless", TokenType::kLunless},
    {"atan2", TokenType::kAtan2},
    {"sum", TokenType::kSum},
    {"avg", TokenType::kAvg},
    {"count", TokenType::kCount},
    {"min", TokenType::kMin},
    {"max", TokenType::kMax},
    {"group", TokenType::kGroup},
    {"stddev", TokenType::kStddev},
    {"stdvar", TokenType::kStdvar},
    {"topk", TokenType::kTopk},
    {"bottomk", TokenType::kBottomk},
    {"count_values", TokenType::kCountValues},
    {"quantile", TokenType::kQuantile},
    {"offset", TokenType::kOffset},
    {"by", TokenType::kBy},
    {"without", TokenType::kWithout},
    {"on", TokenType::kOn},
    {"ignoring", TokenType::kIgnoring},
    {"group_left", TokenType::kGroupLeft},
    {"group_right", TokenType::kGroupRight},
    {"bool", TokenType::kBool},
    {"start", TokenType::kStart},
    {"end", TokenType::kEnd},
    {"inf", TokenType::kNumber},
    {"nan", TokenType::kNumber},
}};

// Case-insensitive keyword lookup; kIdentifier when `word` is no keyword.
TokenType LookupKeyword(std::string_view word) {
  if (word.empty() || word.size() > 12) return TokenType::kIdentifier;
  char lower[12];
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  std::string_view w(lower, word.size());
  for (const Keyword& k : kKeywords) {
    if (k.word == w) return k.type;
  }
  return TokenType::kIdentifier;
}

// The first `n` runes of s, as Go's precision on `%q` truncates.
std::string_view FirstRunes(std::string_view s, int n) {
  size_t i = 0;
  for (int k = 0; k < n && i < s.size(); ++k) {
    int width = 0;
    DecodeRune(s, i, &width);
    i += static_cast<size_t>(width);
  }
  return s.substr(0, i);
}

}  // namespace

bool IsOperatorToken(TokenType t) { return t >= TokenType::kAdd && t <= TokenType::kAtan2; }
bool IsAggregatorToken(TokenType t) { return t >= TokenType::kAvg && t <= TokenType::kTopk; }
bool IsKeywordToken(TokenType t) { return t >= TokenType::kBool && t <= TokenType::kWithout; }

std::string DescribeToken(const Token& token) {
  switch (token.type) {
    case TokenType::kEof:
      return "end of input";
    case TokenType::kAt:
      // Prometheus has no display string for `@`: it prints the item type's fallback name.
      return "\"<Item 57385>\" <op:@>";
    case TokenType::kIdentifier:
      return "identifier " + PromQLQuote(token.text);
    case TokenType::kMetricIdentifier:
      return "metric identifier " + PromQLQuote(token.text);
    case TokenType::kNumber:
    case TokenType::kString:
    case TokenType::kDuration:
    case TokenType::kComment:
    case TokenType::kError: {
      const char* kind = token.type == TokenType::kNumber     ? "number "
                         : token.type == TokenType::kString   ? "string "
                         : token.type == TokenType::kDuration ? "duration "
                         : token.type == TokenType::kComment  ? "comment "
                                                              : "error ";
      if (token.text.size() > 10) return kind + PromQLQuote(FirstRunes(token.text, 10)) + "...";
      return kind + PromQLQuote(token.text);
    }
    default:
      break;
  }
  if (IsOperatorToken(token.type)) return "<op:" + std::string(token.text) + ">";
  if (IsAggregatorToken(token.type)) return "<aggr:" + std::string(token.text) + ">";
  if (IsKeywordToken(token.type)) return "<" + std::string(token.text) + ">";
  if (token.text.size() > 10) return PromQLQuote(FirstRunes(token.text, 10)) + "...";
  return PromQLQuote(token.text);
}

int32_t Lexer::NextRune() {
  if (pos_ >= input_.size()) {
    width_ = 0;
    return kEofRune;
  }
  const auto c = static_cast<unsigned char>(input_[pos_]);
  if (c < 0x80) {
    width_ = 1;
    ++pos_;
    return c;
  }
  int w = 0;
  int32_t r = DecodeRune(input_, pos_, &w);
  width_ = static_cast<size_t>(w);
  pos_ += width_;
  return r;
}

int32_t Lexer::PeekRune() const {
  if (pos_ >= input_.size()) return kEofRune;
  const auto c = static_cast<unsigned char>(input_[pos_]);
  if (c < 0x80) return c;
  int w = 0;
  return DecodeRune(input_, pos_, &w);
}

bool Lexer::Accept(std::string_view valid) {
  int32_t r = NextRune();
  if (r >= 0 && r < 0x80 && valid.find(static_cast<char>(r)) != std::string_view::npos) {
    return true;
  }
  Backup();
  return false;
}

void Lexer::AcceptRun(std::string_view valid) {
  while (Accept(valid)) {
  }
}

Token Lexer::Emit(TokenType type) {
  Token t{type, static_cast<int>(start_), input_.substr(start_, pos_ - start_)};
  start_ = pos_;
  return t;
}

Token Lexer::Error(std::string message) {
  error_ = std::move(message);
  done_ = true;
  return Token{TokenType::kError, static_cast<int>(start_), {}};
}

Token Lexer::Next() {
  if (done_) return Token{TokenType::kEof, static_cast<int>(input_.size()), {}};
  if (after_bracket_) {
    after_bracket_ = false;
    while (IsSpace(PeekRune())) NextRune();
    start_ = pos_;
    return LexDuration();
  }
  return brace_open_ ? LexInsideBraces() : LexStatement();
}

Token Lexer::LexComment() {
  pos_ += 1;  // '#'
  int32_t r = NextRune();
  while (r != '\r' && r != '\n' && r != kEofRune) r = NextRune();
  Backup();
  return Emit(TokenType::kComment);
}

Token Lexer::LexStatement() {
  for (;;) {
    if (brace_open_) return LexInsideBraces();
    start_ = pos_;
    if (pos_ < input_.size() && input_[pos_] == '#') return LexComment();
    const int32_t r = NextRune();
    switch (r) {
      case kEofRune:
        if (paren_depth_ != 0) return Error("unclosed left parenthesis");
        if (bracket_open_) return Error("unclosed left bracket");
        done_ = true;
        return Emit(TokenType::kEof);
      case ',':
        return Emit(TokenType::kComma);
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        while (IsSpace(PeekRune())) NextRune();
        continue;
      case '*':
        return Emit(TokenType::kMul);
      case '/':
        return Emit(TokenType::kDiv);
      case '%':
        return Emit(TokenType::kMod);
      case '+':
        return Emit(TokenType::kAdd);
      case '-':
        return Emit(TokenType::kSub);
      case '^':
        return Emit(TokenType::kPow);
      case '=': {
        int32_t t = PeekRune();
        if (t == '=') {
          NextRune();
          return Emit(TokenType::kEqlc);
        }
        if (t == '~') return Error("unexpected character after '=': " + GoQuoteRune(t));
        return Emit(TokenType::kAssign);
      }
      case '!': {
        int32_t t = NextRune();
        if (t == '=') return Emit(TokenType::kNeq);
        return Error("unexpected character after '!': " + GoQuoteRune(t));
      }
      case '<':
        if (PeekRune() == '=') {
          NextRune();
          return Emit(TokenType::kLte);
        }
        return Emit(TokenType::kLss);
      case '>':
        if (PeekRune() == '=') {
          NextRune();
          return Emit(TokenType::kGte);
        }
        return Emit(TokenType::kGtr);
      case '"':
      case '\'':
        string_open_ = r;
        return LexString();
      case '`':
        string_open_ = r;
        return LexRawString();
      case '(':
        ++paren_depth_;
        return Emit(TokenType::kLeftParen);
      case ')': {
        Token t = Emit(TokenType::kRightParen);
        if (--paren_depth_ < 0) return Error("unexpected right parenthesis ')'");
        return t;
      }
      case '{':
        brace_open_ = true;
        return Emit(TokenType::kLeftBrace);
      case '[': {
        if (bracket_open_) return Error("unexpected left bracket '['");
        got_colon_ = false;
        Token t = Emit(TokenType::kLeftBracket);
        bracket_open_ = true;
        after_bracket_ = true;
        return t;
      }
      case ']':
        if (!bracket_open_) return Error("unexpected right bracket ']'");
        bracket_open_ = false;
        return Emit(TokenType::kRightBracket);
      case '@':
        return Emit(TokenType::kAt);
      default:
        break;
    }
    if (IsDigit(r) || (r == '.' && IsDigit(PeekRune()))) {
      Backup();
      return LexNumberOrDuration();
    }
    if (IsAlpha(r) || r == ':') {
      if (!bracket_open_) {
        Backup();
        return LexKeywordOrIdentifier();
      }
      // Inside brackets Prometheus lexes any letter or ':' as the subquery colon.
      if (got_colon_) return Error("unexpected colon " + GoQuoteRune(r));
      got_colon_ = true;
      return Emit(TokenType::kColon);
    }
    return Error("unexpected character: " + GoQuoteRune(r));
  }
}

Token Lexer::LexInsideBraces() {
  for (;;) {
    start_ = pos_;
    if (pos_ < input_.size() && input_[pos_] == '#') return LexComment();
    const int32_t r = NextRune();
    if (r == kEofRune) return Error("unexpected end of input inside braces");
    if (IsSpace(r)) {
      while (IsSpace(PeekRune())) NextRune();
      continue;
    }
    if (IsAlpha(r)) {
      while (IsAlphaNumeric(NextRune())) {
      }
      Backup();
      return Emit(TokenType::kIdentifier);
    }
    switch (r) {
      case ',':
        return Emit(TokenType::kComma);
      case '"':
      case '\'':
        string_open_ = r;
        return LexString();
      case '`':
        string_open_ = r;
        return LexRawString();
      case '=':
        if (NextRune() == '~') return Emit(TokenType::kEqlRegex);
        Backup();
        return Emit(TokenType::kAssign);
      case '!': {
        int32_t nr = NextRune();
        if (nr == '~') return Emit(TokenType::kNeqRegex);
        if (nr == '=') return Emit(TokenType::kNeq);
        return Error("unexpected character after '!' inside braces: " + GoQuoteRune(nr));
      }
      case '{':
        return Error("unexpected left brace '{'");
      case '}':
        brace_open_ = false;
        return Emit(TokenType::kRightBrace);
      default:
        return Error("unexpected character inside braces: " + GoQuoteRune(r));
    }
  }
}

bool Lexer::ScanNumber() {
  std::string_view digits = kDecimal;
  if (Accept("0") && Accept("xX")) digits = kHexDigits;
  AcceptRun(digits);
  if (Accept(".")) AcceptRun(digits);
  if (Accept("eE")) {
    Accept("+-");
    AcceptRun(kDecimal);
  }
  return !IsAlphaNumeric(PeekRune());
}

bool Lexer::AcceptRemainingDuration() {
  if (!Accept("smhdwy")) return false;
  Accept("s");  // "ms"; bad units such as "hs" fail when the duration is parsed.
  while (Accept(kDecimal)) {
    AcceptRun(kDecimal);
    if (!Accept("smhdw")) return false;
    Accept("s");
  }
  return !IsAlphaNumeric(NextRune());
}

Token Lexer::LexNumberOrDuration() {
  if (ScanNumber()) return Emit(TokenType::kNumber);
  if (AcceptRemainingDuration()) {
    Backup();
    return Emit(TokenType::kDuration);
  }
  return Error("bad number or duration syntax: " +
               PromQLQuote(input_.substr(start_, pos_ - start_)));
}

Token Lexer::LexDuration() {
  if (ScanNumber()) return Error("missing unit character in duration");
  if (!AcceptRemainingDuration()) {
    return Error("bad duration syntax: " + PromQLQuote(input_.substr(start_, pos_ - start_)));
  }
  Backup();
  return Emit(TokenType::kDuration);
}

Token Lexer::LexKeywordOrIdentifier() {
  for (;;) {
    int32_t r = NextRune();
    if (!IsAlphaNumeric(r) && r != ':') break;
  }
  Backup();
  std::string_view word = input_.substr(start_, pos_ - start_);
  TokenType kw = LookupKeyword(word);
  if (kw != TokenType::kIdentifier) return Emit(kw);
  if (word.find(':') != std::string_view::npos) return Emit(TokenType::kMetricIdentifier);
  return Emit(TokenType::kIdentifier);
}

bool Lexer::LexEscape() {
  int32_t ch = NextRune();
  int n = 0;
  uint32_t base = 0;
  uint32_t max = 0;
  switch (ch) {
    case 'a':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
    case 'v':
    case '\\':
      return true;
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
      n = 3;
      base = 8;
      max = 255;
      break;
    case 'x':
      ch = NextRune();
      n = 2;
      base = 16;
      max = 255;
      break;
    case 'u':
      ch = NextRune();
      n = 4;
      base = 16;
      max = 0x10FFFF;
      break;
    case 'U':
      ch = NextRune();
      n = 8;
      base = 16;
      max = 0x10FFFF;
      break;
    case kEofRune:
      Error("escape sequence not terminated");
      return false;
    default:
      if (ch == string_open_) return true;
      Error("unknown escape sequence " + GoUnicodeRune(ch));
      return false;
  }
  uint32_t x = 0;
  while (n > 0) {
    uint32_t d = DigitValue(ch);
    if (d >= base) {
      if (ch == kEofRune) {
        Error("escape sequence not terminated");
      } else {
        Error("illegal character " + GoUnicodeRune(ch) + " in escape sequence");
      }
      return false;
    }
    x = x * base + d;
    if (--n > 0) ch = NextRune();
  }
  if (x > max || (x >= 0xD800 && x < 0xE000)) {
    Error("escape sequence is an invalid Unicode code point");
    return false;
  }
  return true;
}

Token Lexer::LexString() {
  for (;;) {
    const int32_t r = NextRune();
    if (r == '\\') {
      if (!LexEscape()) return Token{TokenType::kError, static_cast<int>(start_), {}};
    } else if (r == 0xFFFD) {
      return Error("invalid UTF-8 rune");
    } else if (r == kEofRune || r == '\n') {
      return Error("unterminated quoted string");
    } else if (r == string_open_) {
      break;
    }
  }
  return Emit(TokenType::kString);
}

Token Lexer::LexRawString() {
  for (;;) {
    const int32_t r = NextRune();
    if (r == 0xFFFD) return Error("invalid UTF-8 rune");
    if (r == kEofRune) return Error("unterminated raw string");
    if (r == string_open_) break;
  }
  return Emit(TokenType::kString);
}

}  // namespace tidemark::promql
