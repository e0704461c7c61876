// Go-compatible text helpers shared by the PromQL parser and engine and the HTTP API, so that
// query text, error messages and API bodies match Prometheus 2.42 (built with Go 1.19) byte for
// byte: strconv.Quote, strconv.FormatFloat/ParseFloat, fmt's %v and %f, UTF-8 decoding.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tidemark {

// How a valid U+FFFD (not an invalid byte, which is always \xNN) is quoted.
enum class RuneErrorQuoting {
  kVerbatim,  // As Go's strconv.Quote: the character itself.
  kEscaped,  // As \ufffd: PromQL's printer, whose lexer rejects a raw U+FFFD (promql::PromQLQuote).
};

// Appends `s` as Go's strconv.Quote (`%q`) does: "…" with \", \\, \n, \xff for invalid UTF-8,
// \u00ad / \U000e0001 for non-printable code points (unicode.IsPrint).
void AppendGoQuoted(std::string_view s, std::string* out,
                    RuneErrorQuoting fffd = RuneErrorQuoting::kVerbatim);
std::string GoQuote(std::string_view s, RuneErrorQuoting fffd = RuneErrorQuoting::kVerbatim);

// A code point as Go's `%q` prints a rune: 'a', '\n', '\x00', '\''. -1 (end of input) and
// invalid code points print as '\ufffd' does in Go: '�'.
std::string GoQuoteRune(int32_t r);

// A code point as Go's `%#U`: "U+0071 'q'", or "U+000A" for non-printable ones.
std::string GoUnicodeRune(int32_t r);

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space
// (Unicode 14.0 tables; Go 1.19 used 13.0).
bool GoIsPrint(int32_t r);

// Decodes one UTF-8 code point at s[i] as Go's utf8.DecodeRuneInString: returns the rune and sets
// *width; invalid or truncated sequences give 0xFFFD with width 1; an empty input gives -1, 0.
int32_t DecodeRune(std::string_view s, size_t i, int* width);

// Appends the UTF-8 encoding of a valid code point.
void AppendUtf8(int32_t r, std::string* out);

// strconv.FormatFloat(v, fmt, -1, 64) with the shortest round-trip digits: 'g' is also fmt's %v
// (1e+06, 123456, 0.0001, 1e-05), 'f' plain (1e21 → "1000000000000000000000"), 'e' exponent form
// (1e-07, 1.5e+21). NaN, +Inf, -Inf spelled as Go does.
std::string FormatGoFloat(double v, char fmt = 'g');
void AppendGoFloat(double v, char fmt, std::string* out);

// float64 as Go's `%.<precision>f` (fmt's %f is precision 6); +Inf, -Inf and NaN as Go spells them.
std::string FormatGoFixed(double v, int precision);

// Go's int64(f) on amd64: NaN and values outside int64 become math.MinInt64.
int64_t GoFloatToInt64(double v);

// Go's strconv.ParseFloat(s, 64) == nil error: decimal with optional exponent, hexadecimal with a
// mandatory p exponent (0x1p3), '_' between digits, "inf"/"infinity" with an optional sign and
// unsigned "nan" in any case. Overflow is rejected; underflow gives ±0 or a subnormal. Sets *v.
bool ParseGoFloat(std::string_view s, double* v);

}  // namespace tidemark
