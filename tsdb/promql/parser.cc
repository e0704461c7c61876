// A recursive-descent / precedence-climbing parser that reproduces Prometheus 2.42's yacc grammar:
// the same trees, the same first error message and the same error position for every input.
// Prometheus reports only the first error it collects, so this parser stops at the first one,
// taking care to detect errors in the order the yacc parser would (a reduction that needs no
// lookahead token runs before the next token is lexed).
#include "tsdb/promql/parser.h"

#include <re2/re2.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

#include "common/strings.h"
#include "tsdb/promql/go_format.h"
#include "tsdb/promql/lexer.h"

namespace tidemark::promql {
namespace {

// Deepest expression tree (and parser recursion) accepted; deeper input is rejected with an
// error instead of overflowing the stack here or in the evaluator.
constexpr int kMaxDepth = 1000;

// Binary operator precedence, lowest 1 (`or`) to highest 6 (`^`); -1 for other tokens.
int Precedence(TokenType t) {
  switch (t) {
    case TokenType::kLor:
      return 1;
    case TokenType::kLand:
    case TokenType::kLunless:
      return 2;
    case TokenType::kEqlc:
    case TokenType::kNeq:
    case TokenType::kLte:
    case TokenType::kLss:
    case TokenType::kGte:
    case TokenType::kGtr:
      return 3;
    case TokenType::kAdd:
    case TokenType::kSub:
      return 4;
    case TokenType::kMul:
    case TokenType::kDiv:
    case TokenType::kMod:
    case TokenType::kAtan2:
      return 5;
    case TokenType::kPow:
      return 6;
    default:
      return -1;
  }
}
constexpr int kPowPrecedence = 6;

BinaryOp ToBinaryOp(TokenType t) {
  switch (t) {
    case TokenType::kAdd:
      return BinaryOp::kAdd;
    case TokenType::kSub:
      return BinaryOp::kSub;
    case TokenType::kMul:
      return BinaryOp::kMul;
    case TokenType::kDiv:
      return BinaryOp::kDiv;
    case TokenType::kMod:
      return BinaryOp::kMod;
    case TokenType::kPow:
      return BinaryOp::kPow;
    case TokenType::kAtan2:
      return BinaryOp::kAtan2;
    case TokenType::kEqlc:
      return BinaryOp::kEql;
    case TokenType::kNeq:
      return BinaryOp::kNeq;
    case TokenType::kGtr:
      return BinaryOp::kGtr;
    case TokenType::kLss:
      return BinaryOp::kLss;
    case TokenType::kGte:
      return BinaryOp::kGte;
    case TokenType::kLte:
      return BinaryOp::kLte;
    case TokenType::kLand:
      return BinaryOp::kAnd;
    case TokenType::kLor:
      return BinaryOp::kOr;
    default:
      return BinaryOp::kUnless;
  }
}

AggregateOp ToAggregateOp(TokenType t) {
  switch (t) {
    case TokenType::kAvg:
      return AggregateOp::kAvg;
    case TokenType::kBottomk:
      return AggregateOp::kBottomk;
    case TokenType::kCount:
      return AggregateOp::kCount;
    case TokenType::kCountValues:
      return AggregateOp::kCountValues;
    case TokenType::kGroup:
      return AggregateOp::kGroup;
    case TokenType::kMax:
      return AggregateOp::kMax;
    case TokenType::kMin:
      return AggregateOp::kMin;
    case TokenType::kQuantile:
      return AggregateOp::kQuantile;
    case TokenType::kStddev:
      return AggregateOp::kStddev;
    case TokenType::kStdvar:
      return AggregateOp::kStdvar;
    case TokenType::kTopk:
      return AggregateOp::kTopk;
    default:
      return AggregateOp::kSum;
  }
}

// Tokens the grammar accepts as a metric name (`metric_identifier`): keywords included.
bool IsMetricIdentifier(TokenType t) {
  switch (t) {
    case TokenType::kIdentifier:
    case TokenType::kMetricIdentifier:
    case TokenType::kBy:
    case TokenType::kWithout:
    case TokenType::kLand:
    case TokenType::kLor:
    case TokenType::kLunless:
    case TokenType::kOffset:
    case TokenType::kStart:
    case TokenType::kEnd:
      return true;
    default:
      return IsAggregatorToken(t);
  }
}

// Tokens the grammar accepts as a label in `by (…)`, `on (…)`, … (`maybe_label`).
bool IsMaybeLabel(TokenType t) {
  switch (t) {
    case TokenType::kIdentifier:
    case TokenType::kMetricIdentifier:
    case TokenType::kBool:
    case TokenType::kBy:
    case TokenType::kGroupLeft:
    case TokenType::kGroupRight:
    case TokenType::kIgnoring:
    case TokenType::kLand:
    case TokenType::kLor:
    case TokenType::kLunless:
    case TokenType::kOffset:
    case TokenType::kOn:
    case TokenType::kStart:
    case TokenType::kEnd:
    case TokenType::kAtan2:
      return true;
    default:
      return IsAggregatorToken(t);
  }
}

// Tokens an expression can start with.
bool StartsExpr(TokenType t) {
  switch (t) {
    case TokenType::kNumber:
    case TokenType::kString:
    case TokenType::kLeftParen:
    case TokenType::kLeftBrace:
    case TokenType::kAdd:
    case TokenType::kSub:
      return true;
    default:
      return IsMetricIdentifier(t);
  }
}

bool IsLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

int End(const Token& t) { return t.pos + static_cast<int>(t.text.size()); }

// Go's strconv.ParseInt(s, 0, 64) for the shapes the lexer produces.
bool ParseGoInt(std::string_view s, int64_t* out) {
  uint64_t base = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() >= 2 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint64_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<uint64_t>(c - 'A' + 10);
    } else {
      return false;
    }
    if (d >= base) return false;
    if (v > (static_cast<uint64_t>(INT64_MAX) - d) / base) return false;  // Overflow.
    v = v * base + d;
  }
  *out = static_cast<int64_t>(v);
  return true;
}

// Prometheus' parseNumber: ParseInt(s, 0, 64), else ParseFloat(s, 64). The error text is Go's.
Result<double> ParseNumber(std::string_view s) {
  int64_t i = 0;
  if (ParseGoInt(s, &i)) return static_cast<double>(i);
  if (EqualsIgnoreCase(s, "inf")) return std::numeric_limits<double>::infinity();
  if (EqualsIgnoreCase(s, "nan")) return std::numeric_limits<double>::quiet_NaN();
  auto syntax = [&] {
    return Status::InvalidArgument("error parsing number: strconv.ParseFloat: parsing " +
                                   PromQLQuote(s) + ": invalid syntax");
  };
  // Hexadecimal floats need a 'p' exponent, which the lexer never produces.
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) return syntax();
  double v = 0;
  auto res = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (res.ptr != s.data() + s.size()) return syntax();
  if (res.ec == std::errc::result_out_of_range) {
    // Overflow is an error in Go; underflow rounds to zero (or a subnormal) silently.
    std::string copy(s);
    v = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(v)) {
      return Status::InvalidArgument("error parsing number: strconv.ParseFloat: parsing " +
                                     PromQLQuote(s) + ": value out of range");
    }
  } else if (res.ec != std::errc()) {
    return syntax();
  }
  return v;
}

// The largest duration model.ParseDuration accepts: time.Duration's range, in milliseconds.
constexpr uint64_t kMaxDurationMs = static_cast<uint64_t>(INT64_MAX) / 1000000;

// Prometheus' parseDuration (model.ParseDuration plus "must be greater than 0"), in ms.
Result<int64_t> ParseDuration(std::string_view s) {
  static constexpr uint64_t kMult[] = {1000ULL * 60 * 60 * 24 * 365,
                                       1000ULL * 60 * 60 * 24 * 7,
                                       1000ULL * 60 * 60 * 24,
                                       1000ULL * 60 * 60,
                                       1000ULL * 60,
                                       1000ULL,
                                       1ULL};
  struct Part {
    uint64_t n;
    bool overflow;
    int unit;
  };
  Part parts[7];
  int nparts = 0;
  int last_unit = -1;
  size_t i = 0;
  auto invalid = [&] {
    return Status::InvalidArgument("not a valid duration string: " + PromQLQuote(s));
  };
  if (s.empty()) return invalid();
  while (i < s.size()) {
    size_t j = i;
    uint64_t n = 0;
    bool overflow = false;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
      auto d = static_cast<uint64_t>(s[j] - '0');
      if (n > (UINT64_MAX - d) / 10) overflow = true;
      n = n * 10 + d;
      ++j;
    }
    if (j == i || j == s.size()) return invalid();
    int unit;
    if (s.substr(j, 2) == "ms") {
      unit = 6;
      j += 2;
    } else {
      switch (s[j]) {
        case 'y':
          unit = 0;
          break;
        case 'w':
          unit = 1;
          break;
        case 'd':
          unit = 2;
          break;
        case 'h':
          unit = 3;
          break;
        case 'm':
          unit = 4;
          break;
        case 's':
          unit = 5;
          break;
        default:
          return invalid();
      }
      ++j;
    }
    if (unit <= last_unit) return invalid();
    last_unit = unit;
    parts[nparts++] = {n, overflow, unit};
    i = j;
  }
  uint64_t total = 0;
  for (int k = 0; k < nparts; ++k) {
    const uint64_t mult = kMult[parts[k].unit];
    if (parts[k].overflow || parts[k].n > kMaxDurationMs / mult) {
      return Status::InvalidArgument("duration out of range");
    }
    total += parts[k].n * mult;
    if (total > kMaxDurationMs) return Status::InvalidArgument("duration out of range");
  }
  if (total == 0) return Status::InvalidArgument("duration must be greater than 0");
  return static_cast<int64_t>(total);
}

// Go's strconv.Unquote as Prometheus' strutil.Unquote applies it (single quotes allowed); the
// lexer has already validated every escape sequence.
std::string Unquote(std::string_view tok) {
  const char quote = tok.front();
  std::string_view body = tok.substr(1, tok.size() - 2);
  if (quote == '`' || body.find('\\') == std::string_view::npos) return std::string(body);
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size();) {
    char c = body[i];
    if (c != '\\') {
      out.push_back(c);
      ++i;
      continue;
    }
    char e = body[i + 1];
    i += 2;
    switch (e) {
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x':
      case 'u':
      case 'U': {
        const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t v = 0;
        for (size_t k = 0; k < n; ++k) {
          char h = body[i + k];
          v = v * 16 + static_cast<uint32_t>(h <= '9'   ? h - '0'
                                             : h >= 'a' ? h - 'a' + 10
                                                        : h - 'A' + 10);
        }
        i += n;
        if (e == 'x') {
          out.push_back(static_cast<char>(v));
        } else {
          AppendUtf8(static_cast<int32_t>(v), &out);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (size_t k = 0; k < 2; ++k) v = v * 8 + static_cast<uint32_t>(body[i + k] - '0');
          i += 2;
          out.push_back(static_cast<char>(v));
        } else {
          out.push_back(e);  // \\, \' or \" (the lexer allows only the opening quote).
        }
        break;
    }
  }
  return out;
}

struct Parsed {
  ExprPtr expr;
  int height = 0;
  explicit operator bool() const { return expr != nullptr; }
};

class Parser {
 public:
  explicit Parser(std::string_view input) : input_(input), lexer_(input) {}

  Result<ExprPtr> Parse() {
    Token t = Peek();
    if (t.type == TokenType::kError) return TakeError();
    if (t.type == TokenType::kEof) {
      Fail(0, "no expression found in input");
      return TakeError();
    }
    Parsed p = ParseExpr(0);
    if (!p) return TakeError();
    t = Peek();
    if (t.type != TokenType::kEof) {
      Unexpected(t);
      return TakeError();
    }
    Check(*p.expr);
    if (failed_) return TakeError();
    return std::move(p.expr);
  }

 private:
  // ---- Tokens ----

  Token Peek() {
    if (!has_peek_) {
      do {
        peek_ = lexer_.Next();
      } while (peek_.type == TokenType::kComment);
      has_peek_ = true;
      if (peek_.type == TokenType::kError) Fail(peek_.pos, lexer_.error());
    }
    return peek_;
  }

  Token Next() {
    Token t = Peek();
    has_peek_ = false;
    switch (t.type) {
      case TokenType::kRightBrace:
      case TokenType::kRightParen:
      case TokenType::kRightBracket:
      case TokenType::kDuration:
      case TokenType::kNumber:
        last_closing_ = End(t);
        break;
      default:
        break;
    }
    return t;
  }

  // ---- Errors ----

  [[gnu::noinline]] Parsed Fail(int pos, std::string_view msg) {
    if (failed_) return {};
    failed_ = true;
    int line = 1;
    int last_break = -1;
    for (int i = 0; i < pos && i < static_cast<int>(input_.size()); ++i) {
      if (input_[static_cast<size_t>(i)] == '\n') {
        ++line;
        last_break = i;
      }
    }
    message_ = std::to_string(line) + ":" + std::to_string(pos - last_break) +
               ": parse error: " + std::string(msg);
    return {};
  }

  Status TakeError() {
    if (message_.empty()) message_ = "1:1: parse error: internal parser error";  // Unreachable.
    return Status::InvalidArgument(std::move(message_));
  }

  // "unexpected <token>[ in <context>][, expected <expected>]"; inside an aggregation's
  // arguments a context-free error reads "in aggregation", as yacc's error recovery gives.
  [[gnu::noinline]] Parsed Unexpected(const Token& t, std::string_view context = {},
                                      std::string_view expected = {}) {
    if (t.type == TokenType::kError) return {};  // Reported when it was lexed.
    std::string msg = "unexpected " + DescribeToken(t);
    if (context.empty() && agg_depth_ > 0) context = "aggregation";
    if (!context.empty()) {
      msg += " in ";
      msg += context;
    }
    if (!expected.empty()) {
      msg += ", expected ";
      msg += expected;
    }
    return Fail(t.pos, msg);
  }

  [[gnu::noinline]] bool TooDeep(int height, int pos) {
    if (height <= kMaxDepth && depth_ <= kMaxDepth) return false;
    Fail(pos, "expression nesting too deep (more than " + std::to_string(kMaxDepth) + " levels)");
    return true;
  }

  // ---- Expressions ----

  Parsed ParseExpr(int min_prec) {
    ++depth_;
    Parsed r = ParseExprLoop(min_prec);
    --depth_;
    return r;
  }

  Parsed ParseExprLoop(int min_prec) {
    if (TooDeep(0, Peek().pos)) return {};
    Parsed lhs = ParseUnary();
    if (!lhs) return {};
    for (;;) {
      Token op = Peek();
      if (op.type == TokenType::kError) return {};
      const int prec = Precedence(op.type);
      if (prec < 0 || prec < min_prec) break;
      Next();
      auto bin = std::make_unique<BinaryExpr>();
      bin->op = ToBinaryOp(op.type);
      if (!ParseBinaryModifiers(bin.get())) return {};
      Parsed rhs = ParseExpr(op.type == TokenType::kPow ? prec : prec + 1);
      if (!rhs) return {};
      bin->pos = {lhs.expr->pos.start, rhs.expr->pos.end};
      const int height = std::max(lhs.height, rhs.height) + 1;
      bin->lhs = std::move(lhs.expr);
      bin->rhs = std::move(rhs.expr);
      if (TooDeep(height, bin->pos.start)) return {};
      lhs = {std::move(bin), height};
    }
    return lhs;
  }

  // `bool`, `on (…)` / `ignoring (…)`, `group_left (…)` / `group_right (…)` after an operator.
  // Kept out of ParseExprLoop so the recursive frames stay small.
  [[gnu::noinline]] bool ParseBinaryModifiers(BinaryExpr* b) {
    VectorMatching vm;
    if (Peek().type == TokenType::kBool) {
      Next();
      b->return_bool = true;
    }
    Token t = Peek();
    if (t.type == TokenType::kOn || t.type == TokenType::kIgnoring) {
      Next();
      vm.on = t.type == TokenType::kOn;
      if (!ParseGrouping(&vm.matching_labels)) return false;
      t = Peek();
      if (t.type == TokenType::kGroupLeft || t.type == TokenType::kGroupRight) {
        Next();
        vm.card =
            t.type == TokenType::kGroupLeft ? Cardinality::kManyToOne : Cardinality::kOneToMany;
        // The label list is optional, but yacc's error recovery still expects one when the
        // next token cannot start the right-hand side.
        const Token p = Peek();
        if (p.type == TokenType::kError) return false;
        if (p.type == TokenType::kLeftParen) {
          if (!ParseGrouping(&vm.include)) return false;
        } else if (!StartsExpr(p.type)) {
          Unexpected(p, "grouping opts", "\"(\"");
          return false;
        }
      }
    }
    if (failed_) return false;
    b->matching = std::move(vm);
    return true;
  }

  Parsed ParseUnary() {
    Token t = Peek();
    if (t.type != TokenType::kAdd && t.type != TokenType::kSub) return ParsePostfix(ParsePrimary());
    Next();
    // `unary_op expr %prec MUL`: the operand extends over `^` only.
    Parsed operand = ParseExpr(kPowPrecedence);
    if (!operand) return {};
    if (operand.expr->kind == ExprKind::kNumber) {
      auto* n = static_cast<NumberLiteral*>(operand.expr.get());
      if (t.type == TokenType::kSub) n->value = -n->value;
      n->pos.start = t.pos;
      return operand;
    }
    auto u = std::make_unique<UnaryExpr>();
    u->op = t.type == TokenType::kSub ? '-' : '+';
    u->pos = {t.pos, operand.expr->pos.end};
    u->expr = std::move(operand.expr);
    const int height = operand.height + 1;
    if (TooDeep(height, t.pos)) return {};
    return {std::move(u), height};
  }

  [[gnu::noinline]] Parsed ParseLiteral(const Token& t) {
    if (t.type == TokenType::kString) {
      auto s = std::make_unique<StringLiteral>();
      s->value = Unquote(t.text);
      s->pos = {t.pos, End(t)};
      return {std::move(s), 1};
    }
    Result<double> v = ParseNumber(t.text);
    if (!v.ok()) return Fail(t.pos, v.status().message());
    auto n = std::make_unique<NumberLiteral>();
    n->value = *v;
    n->pos = {t.pos, End(t)};
    return {std::move(n), 1};
  }

  Parsed ParsePrimary() {
    Token t = Next();
    switch (t.type) {
      case TokenType::kNumber:
      case TokenType::kString:
        return ParseLiteral(t);
      case TokenType::kLeftParen: {
        Parsed inner = ParseExpr(0);
        if (!inner) return {};
        Token close = Next();
        if (close.type != TokenType::kRightParen) return Unexpected(close);
        auto p = std::make_unique<ParenExpr>();
        p->pos = {t.pos, End(close)};
        p->expr = std::move(inner.expr);
        const int height = inner.height + 1;
        if (TooDeep(height, t.pos)) return {};
        return {std::move(p), height};
      }
      case TokenType::kLeftBrace:
        return ParseSelector(t, /*named=*/false);
      default:
        break;
    }
    if (IsAggregatorToken(t.type)) {
      TokenType n = Peek().type;
      if (n == TokenType::kLeftParen || n == TokenType::kBy || n == TokenType::kWithout) {
        return ParseAggregate(t);
      }
    } else if (t.type == TokenType::kIdentifier && Peek().type == TokenType::kLeftParen) {
      return ParseCall(t);
    }
    if (failed_) return {};
    if (IsMetricIdentifier(t.type)) return ParseSelector(t, /*named=*/true);
    return Unexpected(t);
  }

  // `name`, `name{…}` or `{…}`; `first` is the name or the `{`.
  [[gnu::noinline]] Parsed ParseSelector(const Token& first, bool named) {
    auto vs = std::make_unique<VectorSelector>();
    vs->pos = {first.pos, End(first)};
    if (named) {
      vs->name = std::string(first.text);
      Result<tsdb::Matcher> m =
          tsdb::Matcher::Create(tsdb::MatchType::kEqual, "__name__", vs->name);
      if (!m.ok()) return Fail(first.pos, m.status().message());
      vs->matchers.push_back(std::move(*m));
      Token t = Peek();
      if (t.type == TokenType::kError) return {};
      if (t.type != TokenType::kLeftBrace) return {std::move(vs), 1};
      Next();
    }
    for (;;) {
      Token t = Next();
      if (t.type == TokenType::kRightBrace) {
        vs->pos.end = End(t);
        break;
      }
      if (t.type != TokenType::kIdentifier) {
        return Unexpected(t, "label matching", "identifier or \"}\"");
      }
      Token op = Next();
      tsdb::MatchType type;
      switch (op.type) {
        case TokenType::kAssign:
          type = tsdb::MatchType::kEqual;
          break;
        case TokenType::kNeq:
          type = tsdb::MatchType::kNotEqual;
          break;
        case TokenType::kEqlRegex:
          type = tsdb::MatchType::kRegexMatch;
          break;
        case TokenType::kNeqRegex:
          type = tsdb::MatchType::kRegexNoMatch;
          break;
        default:
          return Unexpected(op, "label matching", "label matching operator");
      }
      Token value = Next();
      if (value.type != TokenType::kString) return Unexpected(value, "label matching", "string");
      std::string v = Unquote(value.text);
      Result<tsdb::Matcher> m = tsdb::Matcher::Create(type, std::string(t.text), v);
      if (!m.ok()) return Fail(t.pos, RegexError(m.status().message(), "^(?:" + v + ")$"));
      // Prometheus also parses the unanchored pattern, which fails where the anchoring
      // parentheses balance a stray `)` (`a)|(b`).
      if ((type == tsdb::MatchType::kRegexMatch || type == tsdb::MatchType::kRegexNoMatch) &&
          v.find(')') != std::string::npos) {
        std::string err = RegexError("", v);
        if (!err.empty()) return Fail(t.pos, err);
      }
      vs->matchers.push_back(std::move(*m));
      Token sep = Next();
      if (sep.type == TokenType::kRightBrace) {
        vs->pos.end = End(sep);
        break;
      }
      if (sep.type != TokenType::kComma) {
        return Unexpected(sep, "label matching", "\",\" or \"}\"");
      }
    }
    return {std::move(vs), 1};
  }

  // Prometheus' message for a regex Go's regexp rejects: "error parsing regexp: <reason>: `<arg>`"
  // for the anchored pattern it compiles. RE2's reasons are mapped to Go's wording; the two
  // engines accept nearly the same syntax.
  // `pattern` is what Go compiled; "" when RE2 accepts it (then `status_message` is returned).
  static std::string RegexError(const std::string& status_message, const std::string& pattern) {
    RE2::Options opts;
    opts.set_log_errors(false);
    RE2 re(pattern, opts);
    if (re.ok()) return status_message;
    std::string_view reason;
    switch (re.error_code()) {
      case RE2::ErrorBadEscape:
        reason = "invalid escape sequence";
        break;
      case RE2::ErrorBadCharClass:
        reason = "invalid character class";
        break;
      case RE2::ErrorBadCharRange:
        reason = "invalid character class range";
        break;
      case RE2::ErrorMissingBracket:
        reason = "missing closing ]";
        break;
      case RE2::ErrorMissingParen:
        reason = "missing closing )";
        break;
      case RE2::ErrorUnexpectedParen:
        reason = "unexpected )";
        break;
      case RE2::ErrorTrailingBackslash:
        reason = "trailing backslash at end of expression";
        break;
      case RE2::ErrorRepeatArgument:
        reason = "missing argument to repetition operator";
        break;
      case RE2::ErrorRepeatSize:
        reason = "invalid repeat count";
        break;
      case RE2::ErrorRepeatOp:
        reason = "invalid nested repetition operator";
        break;
      case RE2::ErrorBadPerlOp:
        reason = "invalid or unsupported Perl syntax";
        break;
      case RE2::ErrorBadUTF8:
        reason = "invalid UTF-8";
        break;
      case RE2::ErrorBadNamedCapture:
        reason = "invalid named capture";
        break;
      default:
        return "error parsing regexp: " + re.error();
    }
    return "error parsing regexp: " + std::string(reason) + ": `" + re.error_arg() + "`";
  }

  // Arguments after `(` up to and including `)`.
  bool ParseArgs(std::vector<ExprPtr>* args, int* height) {
    Token t = Peek();
    if (t.type == TokenType::kError) return false;
    if (t.type == TokenType::kRightParen) {
      Next();
      return true;
    }
    for (;;) {
      Parsed arg = ParseExpr(0);
      if (!arg) return false;
      *height = std::max(*height, arg.height);
      args->push_back(std::move(arg.expr));
      Token sep = Next();
      if (sep.type == TokenType::kRightParen) return true;
      if (sep.type != TokenType::kComma) {
        Unexpected(sep);
        return false;
      }
      Token after = Peek();
      if (after.type == TokenType::kError) return false;
      if (!StartsExpr(after.type)) {
        Fail(sep.pos, "trailing commas not allowed in function call args");
        return false;
      }
    }
  }

  Parsed ParseCall(const Token& name) {
    Next();  // `(`
    auto call = std::make_unique<Call>();
    int height = 0;
    if (!ParseArgs(&call->args, &height)) return {};
    call->pos = {name.pos, last_closing_};
    call->func = LookupFunction(name.text);
    if (call->func == nullptr) {
      return Fail(name.pos, "unknown function with name " + PromQLQuote(name.text));
    }
    if (TooDeep(height + 1, name.pos)) return {};
    return {std::move(call), height + 1};
  }

  // `(l1, l2, …)` after by/without/on/ignoring/group_left/group_right.
  [[gnu::noinline]] bool ParseGrouping(std::vector<std::string>* labels) {
    constexpr std::string_view kCtx = "grouping opts";
    Token t = Next();
    if (t.type != TokenType::kLeftParen) {
      Unexpected(t, kCtx, "\"(\"");
      return false;
    }
    t = Next();
    if (t.type == TokenType::kRightParen) return true;
    for (;;) {
      if (!IsMaybeLabel(t.type) || !IsLabelName(t.text)) {
        Unexpected(t, kCtx, "label");
        return false;
      }
      labels->emplace_back(t.text);
      t = Next();
      if (t.type == TokenType::kComma) {
        t = Next();
        if (t.type == TokenType::kRightParen) return true;
        continue;
      }
      if (t.type == TokenType::kRightParen) return true;
      Unexpected(t, kCtx, "\",\" or \")\"");
      return false;
    }
  }

  [[gnu::noinline]] bool ParseAggregateModifier(AggregateExpr* agg) {
    Token t = Next();  // by / without
    agg->without = t.type == TokenType::kWithout;
    agg->grouping.clear();
    return ParseGrouping(&agg->grouping);
  }

  Parsed ParseAggregate(const Token& op) {
    ++agg_depth_;
    Parsed r = ParseAggregateBody(op);
    --agg_depth_;
    return r;
  }

  Parsed ParseAggregateBody(const Token& op) {
    auto agg = std::make_unique<AggregateExpr>();
    agg->op = ToAggregateOp(op.type);
    const TokenType first = Peek().type;
    const bool modifier_first = first == TokenType::kBy || first == TokenType::kWithout;
    if (modifier_first && !ParseAggregateModifier(agg.get())) return {};
    Token open = Next();
    if (open.type != TokenType::kLeftParen) return Unexpected(open);
    std::vector<ExprPtr> args;
    int height = 0;
    if (!ParseArgs(&args, &height)) return {};
    if (!modifier_first) {
      // yacc looks ahead for a trailing `by`/`without` before it builds the aggregation.
      Token t = Peek();
      if (t.type == TokenType::kError) return {};
      if ((t.type == TokenType::kBy || t.type == TokenType::kWithout) &&
          !ParseAggregateModifier(agg.get())) {
        return {};
      }
    }
    agg->pos = {op.pos, last_closing_};
    if (args.empty()) return Fail(op.pos, "no arguments for aggregate expression provided");
    const bool with_param = agg->op == AggregateOp::kTopk || agg->op == AggregateOp::kBottomk ||
                            agg->op == AggregateOp::kCountValues ||
                            agg->op == AggregateOp::kQuantile;
    const size_t want = with_param ? 2 : 1;
    if (args.size() != want) {
      return Fail(op.pos, "wrong number of arguments for aggregate expression provided, expected " +
                              std::to_string(want) + ", got " + std::to_string(args.size()));
    }
    if (with_param) agg->param = std::move(args[0]);
    agg->expr = std::move(args[want - 1]);
    if (TooDeep(height + 1, op.pos)) return {};
    return {std::move(agg), height + 1};
  }

  // Range and subquery brackets, `offset` and `@`, any number of them.
  Parsed ParsePostfix(Parsed e) {
    if (!e) return {};
    for (;;) {
      Token t = Peek();
      if (t.type == TokenType::kError) return {};
      if (t.type == TokenType::kLeftBracket) {
        Next();
        if (!ParseBrackets(t, &e)) return {};
      } else if (t.type == TokenType::kOffset) {
        Next();
        if (!ParseOffset(e.expr.get())) return {};
      } else if (t.type == TokenType::kAt) {
        Next();
        if (!ParseAt(e.expr.get())) return {};
      } else {
        return e;
      }
    }
  }

  bool ParseDurationToken(const Token& t, int64_t* ms) {
    Result<int64_t> d = ParseDuration(t.text);
    if (!d.ok()) {
      Fail(t.pos, d.status().message());
      return false;
    }
    *ms = *d;
    return true;
  }

  [[gnu::noinline]] bool ParseBrackets(const Token& open, Parsed* e) {
    Token d = Next();
    if (d.type != TokenType::kDuration) {
      Unexpected(d, "subquery selector", "duration");
      return false;
    }
    int64_t range = 0;
    if (!ParseDurationToken(d, &range)) return false;
    Token t = Next();
    if (t.type == TokenType::kRightBracket) {
      const char* err = nullptr;
      if (e->expr->kind != ExprKind::kVectorSelector) {
        err = "ranges only allowed for vector selectors";
      } else {
        const auto& vs = static_cast<const VectorSelector&>(*e->expr);
        if (vs.offset_ms != 0) {
          err = "no offset modifiers allowed before range";
        } else if (vs.at.kind == AtKind::kTimestamp) {
          err = "no @ modifiers allowed before range";
        }
      }
      if (err != nullptr) {
        Fail(open.pos, err);
        return false;
      }
      auto ms = std::make_unique<MatrixSelector>();
      ms->pos = {e->expr->pos.start, End(t)};
      ms->range_ms = range;
      ms->selector.reset(static_cast<VectorSelector*>(e->expr.release()));
      e->expr = std::move(ms);
      e->height += 1;
      return true;
    }
    if (t.type != TokenType::kColon) {
      Unexpected(t, "subquery or range", "\":\" or \"]\"");
      return false;
    }
    int64_t step = 0;
    t = Next();
    if (t.type == TokenType::kDuration) {
      if (!ParseDurationToken(t, &step)) return false;
      t = Next();
      if (t.type != TokenType::kRightBracket) {
        Unexpected(t, "subquery selector", "\"]\"");
        return false;
      }
    } else if (t.type != TokenType::kRightBracket) {
      Unexpected(t, "subquery selector", "duration or \"]\"");
      return false;
    }
    auto sq = std::make_unique<SubqueryExpr>();
    sq->pos = {e->expr->pos.start, t.pos + 1};
    sq->range_ms = range;
    sq->step_ms = step;
    sq->expr = std::move(e->expr);
    e->expr = std::move(sq);
    e->height += 1;
    return !TooDeep(e->height, e->expr->pos.start);
  }

  [[gnu::noinline]] bool ParseOffset(Expr* e) {
    Token t = Next();
    bool negative = false;
    if (t.type == TokenType::kSub) {
      negative = true;
      t = Next();
    }
    if (t.type != TokenType::kDuration) {
      Unexpected(t, "offset", "duration");
      return false;
    }
    int64_t ms = 0;
    if (!ParseDurationToken(t, &ms)) return false;
    int64_t* target = nullptr;
    int* end = nullptr;
    switch (e->kind) {
      case ExprKind::kVectorSelector:
        target = &static_cast<VectorSelector*>(e)->offset_ms;
        break;
      case ExprKind::kMatrixSelector:
        target = &static_cast<MatrixSelector*>(e)->selector->offset_ms;
        break;
      case ExprKind::kSubquery:
        target = &static_cast<SubqueryExpr*>(e)->offset_ms;
        break;
      default:
        Fail(e->pos.start,
             "offset modifier must be preceded by an instant vector selector or range vector "
             "selector or a subquery");
        return false;
    }
    end = &e->pos.end;
    if (*target != 0) {
      Fail(e->pos.start, "offset may not be set multiple times");
      return false;
    }
    *target = negative ? -ms : ms;
    *end = last_closing_;
    return true;
  }

  // The @ modifier of a selector or subquery, or an error as Prometheus' getAtModifierVars.
  AtModifier* AtTarget(Expr* e) {
    AtModifier* at = nullptr;
    switch (e->kind) {
      case ExprKind::kVectorSelector:
        at = &static_cast<VectorSelector*>(e)->at;
        break;
      case ExprKind::kMatrixSelector:
        at = &static_cast<MatrixSelector*>(e)->selector->at;
        break;
      case ExprKind::kSubquery:
        at = &static_cast<SubqueryExpr*>(e)->at;
        break;
      default:
        Fail(e->pos.start,
             "@ modifier must be preceded by an instant vector selector or range vector selector "
             "or a subquery");
        return nullptr;
    }
    if (at->kind != AtKind::kNone) {
      Fail(e->pos.start, "@ <timestamp> may not be set multiple times");
      return nullptr;
    }
    return at;
  }

  [[gnu::noinline]] bool ParseAt(Expr* e) {
    constexpr std::string_view kCtx = "@";
    constexpr std::string_view kWant = "timestamp";
    Token t = Next();
    if (t.type == TokenType::kStart || t.type == TokenType::kEnd) {
      Token open = Next();
      if (open.type != TokenType::kLeftParen) {
        Unexpected(open, kCtx, kWant);
        return false;
      }
      Token close = Next();
      if (close.type != TokenType::kRightParen) {
        Unexpected(close, kCtx, kWant);
        return false;
      }
      AtModifier* at = AtTarget(e);
      if (at == nullptr) return false;
      at->kind = t.type == TokenType::kStart ? AtKind::kStart : AtKind::kEnd;
      e->pos.end = last_closing_;
      return true;
    }
    double sign = 1;
    if (t.type == TokenType::kAdd || t.type == TokenType::kSub) {
      sign = t.type == TokenType::kSub ? -1 : 1;
      t = Next();
    }
    if (t.type != TokenType::kNumber) {
      Unexpected(t, kCtx, kWant);
      return false;
    }
    Result<double> v = ParseNumber(t.text);
    if (!v.ok()) {
      Fail(t.pos, v.status().message());
      return false;
    }
    const double ts = sign * *v;
    if (std::isnan(ts) || ts >= 9223372036854775808.0 || ts <= -9223372036854775808.0) {
      Fail(e->pos.start, "timestamp out of bounds for @ modifier: " + FormatGoFixed(ts, 6));
      return false;
    }
    AtModifier* at = AtTarget(e);
    if (at == nullptr) return false;
    at->kind = AtKind::kTimestamp;
    at->timestamp_ms = PromMillisFromSeconds(ts);
    e->pos.end = last_closing_;
    return true;
  }

  // ---- Type checks (Prometheus' checkAST), after a successful parse ----

  // The first position after `lhs` that is not white space: where the operator starts.
  int OperatorPos(const BinaryExpr& b) const {
    int p = b.lhs->pos.end;
    while (p < static_cast<int>(input_.size())) {
      char c = input_[static_cast<size_t>(p)];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++p;
    }
    return p;
  }

  bool ExpectType(Expr& e, ValueType want, std::string_view context) {
    ValueType t = Check(e);
    if (failed_) return false;
    if (t != want) {
      Fail(e.pos.start, "expected type " + std::string(DocumentedTypeName(want)) + " in " +
                            std::string(context) + ", got " + std::string(DocumentedTypeName(t)));
      return false;
    }
    return true;
  }

  ValueType Check(Expr& e) {
    if (failed_) return ValueType::kNone;
    switch (e.kind) {
      case ExprKind::kNumber:
      case ExprKind::kString:
        break;
      case ExprKind::kAggregate: {
        auto& a = static_cast<AggregateExpr&>(e);
        if (!ExpectType(*a.expr, ValueType::kVector, "aggregation expression")) break;
        if (a.op == AggregateOp::kTopk || a.op == AggregateOp::kBottomk ||
            a.op == AggregateOp::kQuantile) {
          ExpectType(*a.param, ValueType::kScalar, "aggregation parameter");
        } else if (a.op == AggregateOp::kCountValues) {
          ExpectType(*a.param, ValueType::kString, "aggregation parameter");
        }
        break;
      }
      case ExprKind::kBinary:
        CheckBinary(static_cast<BinaryExpr&>(e));
        break;
      case ExprKind::kCall:
        CheckCall(static_cast<Call&>(e));
        break;
      case ExprKind::kParen:
        Check(*static_cast<ParenExpr&>(e).expr);
        break;
      case ExprKind::kUnary: {
        ValueType t = Check(*static_cast<UnaryExpr&>(e).expr);
        if (!failed_ && t != ValueType::kScalar && t != ValueType::kVector) {
          Fail(e.pos.start,
               "unary expression only allowed on expressions of type scalar or instant vector, "
               "got \"" +
                   std::string(DocumentedTypeName(t)) + "\"");
        }
        break;
      }
      case ExprKind::kSubquery: {
        ValueType t = Check(*static_cast<SubqueryExpr&>(e).expr);
        if (!failed_ && t != ValueType::kVector) {
          Fail(e.pos.start, "subquery is only allowed on instant vector, got " +
                                std::string(ApiTypeName(t)) + " instead");
        }
        break;
      }
      case ExprKind::kMatrixSelector:
        Check(*static_cast<MatrixSelector&>(e).selector);
        break;
      case ExprKind::kVectorSelector:
        CheckSelector(static_cast<VectorSelector&>(e));
        break;
    }
    return failed_ ? ValueType::kNone : e.Type();
  }

  void CheckSelector(const VectorSelector& vs) {
    if (!vs.name.empty()) {
      // matchers[0] is the name written before the braces.
      for (size_t i = 1; i < vs.matchers.size(); ++i) {
        if (vs.matchers[i].name() == "__name__") {
          Fail(vs.pos.start, "metric name must not be set twice: " + PromQLQuote(vs.name) + " or " +
                                 PromQLQuote(vs.matchers[i].value()));
          return;
        }
      }
      return;
    }
    for (const tsdb::Matcher& m : vs.matchers) {
      if (!m.matches_empty()) return;
    }
    Fail(vs.pos.start, "vector selector must contain at least one non-empty matcher");
  }

  void CheckCall(Call& c) {
    const Function& f = *c.func;
    const size_t nargs = f.arg_types.size();
    const size_t got = c.args.size();
    if (f.variadic == 0) {
      if (nargs != got) {
        Fail(c.pos.start, "expected " + std::to_string(nargs) + " argument(s) in call to " +
                              PromQLQuote(f.name) + ", got " + std::to_string(got));
        return;
      }
    } else {
      const size_t na = nargs - 1;
      if (na > got) {
        Fail(c.pos.start, "expected at least " + std::to_string(na) + " argument(s) in call to " +
                              PromQLQuote(f.name) + ", got " + std::to_string(got));
        return;
      }
      if (f.variadic > 0 && na + static_cast<size_t>(f.variadic) < got) {
        Fail(c.pos.start, "expected at most " + std::to_string(na + f.variadic) +
                              " argument(s) in call to " + PromQLQuote(f.name) + ", got " +
                              std::to_string(got));
        return;
      }
    }
    const std::string context = "call to function " + PromQLQuote(f.name);
    for (size_t i = 0; i < got; ++i) {
      size_t k = i;
      if (k >= nargs) {
        if (f.variadic == 0) break;
        k = nargs - 1;
      }
      if (!ExpectType(*c.args[i], f.arg_types[k], context)) return;
    }
  }

  void CheckBinary(BinaryExpr& b) {
    const ValueType lt = Check(*b.lhs);
    const ValueType rt = Check(*b.rhs);
    if (failed_) return;
    const bool comparison = IsComparison(b.op);
    const bool set_op = IsSetOperator(b.op);
    if (b.return_bool && !comparison) {
      Fail(OperatorPos(b), "bool modifier can only be used on comparison operators");
      return;
    }
    if (comparison && !b.return_bool && lt == ValueType::kScalar && rt == ValueType::kScalar) {
      Fail(OperatorPos(b), "comparisons between scalars must use BOOL modifier");
      return;
    }
    VectorMatching& vm = *b.matching;
    if (set_op && vm.card == Cardinality::kOneToOne) vm.card = Cardinality::kManyToMany;
    if (vm.on) {
      for (const std::string& l1 : vm.matching_labels) {
        for (const std::string& l2 : vm.include) {
          if (l1 == l2) {
            Fail(OperatorPos(b),
                 "label " + PromQLQuote(l1) + " must not occur in ON and GROUP clause at once");
            return;
          }
        }
      }
    }
    if (lt != ValueType::kScalar && lt != ValueType::kVector) {
      Fail(b.lhs->pos.start, "binary expression must contain only scalar and instant vector types");
      return;
    }
    if (rt != ValueType::kScalar && rt != ValueType::kVector) {
      Fail(b.rhs->pos.start, "binary expression must contain only scalar and instant vector types");
      return;
    }
    if (lt != ValueType::kVector || rt != ValueType::kVector) {
      if (!vm.matching_labels.empty()) {
        Fail(b.pos.start, "vector matching only allowed between instant vectors");
        return;
      }
      b.matching.reset();
    } else if (set_op) {
      if (vm.card == Cardinality::kOneToMany || vm.card == Cardinality::kManyToOne) {
        Fail(b.pos.start,
             "no grouping allowed for " + PromQLQuote(BinaryOpName(b.op)) + " operation");
        return;
      }
      if (vm.card != Cardinality::kManyToMany) {
        Fail(b.pos.start, "set operations must always be many-to-many");
        return;
      }
    }
    if ((lt == ValueType::kScalar || rt == ValueType::kScalar) && set_op) {
      Fail(b.pos.start, "set operator " + PromQLQuote(BinaryOpName(b.op)) +
                            " not allowed in binary scalar expression");
    }
  }

  std::string_view input_;
  Lexer lexer_;
  Token peek_;
  bool has_peek_ = false;
  int last_closing_ = 0;
  int agg_depth_ = 0;
  int depth_ = 0;
  bool failed_ = false;
  std::string message_;
};

}  // namespace

Result<ExprPtr> ParseExpr(std::string_view input) { return Parser(input).Parse(); }

}  // namespace tidemark::promql
