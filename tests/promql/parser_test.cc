#include "tsdb/promql/parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace tidemark::promql {
namespace {

struct Golden {
  const char* input;
  const char* want;  // ToString() for valid input, the error message otherwise.
};

// Every pair below was produced by Prometheus 2.42.0 (`/api/v1/format_query` on the Debian peer):
// its canonical text for valid queries, its error message for invalid ones.
const std::vector<Golden>& FormatGoldens() {
  static const std::vector<Golden> kCases = {
      {"-2^2", "-2 ^ 2"},
      {"- -1", "1"},
      {"-(1)", "-(1)"},
      {"1000000", "1e+06"},
      {"123456", "123456"},
      {"1e20", "1e+20"},
      {"1e21", "1e+21"},
      {"0.0001", "0.0001"},
      {"0.00001", "1e-05"},
      {"017", "15"},
      {"019", "19"},
      {"0x1F", "31"},
      {".5", "0.5"},
      {"5.", "5"},
      {"Inf", "+Inf"},
      {"-inf", "-Inf"},
      {"NaN", "NaN"},
      {"Infinity", "Infinity"},
      {"nan:x", "nan:x"},
      {"x offset 5m @ 100", "x @ 100.000 offset 5m"},
      {"x @ 100 offset 5m", "x @ 100.000 offset 5m"},
      {"x @ start() [5m]", "x[5m] @ start()"},
      {"x[5m] offset -5m", "x[5m] offset -5m"},
      {"x[1h30m]", "x[1h30m]"},
      {"x[90m]", "x[1h30m]"},
      {"x[1w]", "x[1w]"},
      {"x[7d]", "x[1w]"},
      {"x[365d]", "x[1y]"},
      {"x[1y]", "x[1y]"},
      {"x[1d1ms]", "x[1d1ms]"},
      {"rate(x[5m:])", "rate(x[5m:])"},
      {"x[5m:1m] offset 1h @ end()", "x[5m:1m] @ end() offset 1h"},
      {"sum by () (x)", "sum(x)"},
      {"sum without () (x)", "sum without () (x)"},
      {"sum(x) by (a,b)", "sum by (a, b) (x)"},
      {"topk(3, x)", "topk(3, x)"},
      {"\"abc\\x00\303\251\"", "\"abc\\x00\303\251\""},
      {"'a\"b'", "\"a\\\"b\""},
      {"`a\nb`", "\"a\\nb\""},
      {"a * ignoring() group_left b", "a * b"},
      {"a * on() group_left b", "a * on () group_left () b"},
      {"a * on(x) group_right(y,z) b", "a * on (x) group_right (y, z) b"},
      {"a > bool b", "a > bool b"},
      {"a and on(x) b", "a and on (x) b"},
      {"1 > bool 2", "1 > bool 2"},
      {"{__name__=\"bar\"}", "{__name__=\"bar\"}"},
      {"{__name__=~\"bar\", a!~\"x\\\\d\"}", "{__name__=~\"bar\",a!~\"x\\\\d\"}"},
      {"foo{a=\"\\u00e9\\t\"}", "foo{a=\"\303\251\\t\"}"},
      {"by", "by"},
      {"sum", "sum"},
      {"offset", "offset"},
      {"x:y:z", "x:y:z"},
      {"start", "start"},
      {"x[292y]", "x[292y]"},
      {"label_join(x, \"a\", \"b\")", "label_join(x, \"a\", \"b\")"},
      {"label_join(x, \"a\", \"b\", \"c\", \"d\")", "label_join(x, \"a\", \"b\", \"c\", \"d\")"},
      {"x @ -1.5", "x @ -1.500"},
      {"x @ +100", "x @ 100.000"},
      {"x @ 0x10", "x @ 16.000"},
      {"(and)", "(and)"},
      {"x @ 1e16", "x @ -9223372036854776.000"},
      {"x @ 9223372036854775.807", "x @ -9223372036854776.000"},
      {"x[9223372036854ms]", "x[106751d23h47m16s854ms]"},
      {"x[106751d]", "x[106751d]"},
      {"x[ 5m ]", "x[5m]"},
      {"x[5m :1m]", "x[5m:1m]"},
      {"x[5m: 1m]", "x[5m:1m]"},
      {"x[5m : 1m ]", "x[5m:1m]"},
      {"x{a=\"b\"}[5m] offset 1h @ 100", "x{a=\"b\"}[5m] @ 100.000 offset 1h"},
      {"{a=\"b\"} offset 1m", "{a=\"b\"} offset 1m"},
      {"x # comment", "x"},
      {"x\n+\ny", "x + y"},
      {"a{a='\\''}", "a{a=\"'\"}"},
      {"a{a=`\\d+`}", "a{a=\"\\\\d+\"}"},
      {"a{b!=\"c\"}", "a{b!=\"c\"}"},
      {"a{on=\"x\",by=\"y\",offset=\"z\"}", "a{by=\"y\",offset=\"z\",on=\"x\"}"},
      {"x and on(and) y", "x and on (and) y"},
      {"-x offset 5m", "-x offset 5m"},
      {"-x @ 5", "-x @ 5.000"},
      {"2 ^ -x ^ 3", "2 ^ -x ^ 3"},
      {"x ^ y ^ z", "x ^ y ^ z"},
      {"a - b - c", "a - b - c"},
      {"a / b * c % d", "a / b * c % d"},
      {"a + b * c ^ d", "a + b * c ^ d"},
      {"a or b and c unless d", "a or b and c unless d"},
      {"a == b != c", "a == b != c"},
      {"a atan2 b", "a atan2 b"},
      {"a + b > c and d or e", "a + b > c and d or e"},
      {"-a * b", "-a * b"},
      {"-a ^ b", "-a ^ b"},
      {"+a", "+a"},
      {"-(-a)", "-(-a)"},
      {"-1 + 2", "-1 + 2"},
      {"1 - -1", "1 - -1"},
      {"1 * -2 ^ 2", "1 * -2 ^ 2"},
      {"x + -y", "x + -y"},
      {"sum(-x)", "sum(-x)"},
      {"sum by (a) (x) + sum without (b) (y)", "sum by (a) (x) + sum without (b) (y)"},
      {"a{b=\"c\"}[5m:30s] @ start() offset -1h", "a{b=\"c\"}[5m:30s] @ start() offset -1h"},
      {"((((x))))", "((((x))))"},
      {"a > bool 1", "a > bool 1"},
      {"1 < bool x", "1 < bool x"},
      {"x > 1", "x > 1"},
      {"x unless on(a,b) y", "x unless on (a, b) y"},
      {"x * on(a) group_left() y", "x * on (a) group_left () y"},
      {"x / ignoring(a) group_right(b) y", "x / ignoring (a) group_right (b) y"},
      {"'single \\'q\\''", "\"single 'q'\""},
      {"quantile(0.9, x)", "quantile(0.9, x)"},
      {"count_values(\"v\", x)", "count_values(\"v\", x)"},
      {"bottomk(2, x)", "bottomk(2, x)"},
      {"group(x)", "group(x)"},
      {"stddev(x)", "stddev(x)"},
      {"stdvar(x)", "stdvar(x)"},
      {"a{a=~\"b|c\"}", "a{a=~\"b|c\"}"},
      {"x\n# c\n+ y", "x + y"},
      {"x[5m] @ 1.2345", "x[5m] @ 1.235"},
      {"x @ 1.0005", "x @ 1.001"},
      {"x @ -0.0005", "x @ -0.001"},
      {"x offset 1ms", "x offset 1ms"},
      {"x offset 60s", "x offset 1m"},
      {"x offset 3600000ms", "x offset 1h"},
      {"round(x)", "round(x)"},
      {"clamp(x, 0, 1)", "clamp(x, 0, 1)"},
      {"sum(x) by (a,)", "sum by (a) (x)"},
      {"sum(x) by ()", "sum(x)"},
      {"count_values(\"a\", x) without (a)", "count_values without (a) (\"a\", x)"},
      {"topk(1+1, x)", "topk(1 + 1, x)"},
      {"topk(-1, x)", "topk(-1, x)"},
      {"x + sum", "x + sum"},
      {"sum + 1", "sum + 1"},
      {"sum(sum)", "sum(sum)"},
      {"rate(sum[5m])", "rate(sum[5m])"},
      {"avg by (by) (by)", "avg by (by) (by)"},
      {"x == bool on(a) y", "x == bool on (a) y"},
      {"\"a\"", "\"a\""},
      {"without", "without"},
      {"or", "or"},
      {"unless", "unless"},
      {"end", "end"},
      {"topk", "topk"},
      {"count_values", "count_values"},
      {"quantile", "quantile"},
      {"group", "group"},
      {"stddev", "stddev"},
      {"x[5m f]", "x[5m:]"},
      {"x[5m :]", "x[5m:]"},
      {"1e+06", "1e+06"},
      {"0X1f", "31"},
      {"1E5", "100000"},
      {"00", "0"},
      {"08.5", "8.5"},
      {"0x1e5", "485"},
      {"0x1E+5", "30 + 5"},
      {"1e-5", "1e-05"},
      {"1.e5", "100000"},
      {"x[01m]", "x[1m]"},
      {"x offset -1h30m", "x offset -1h30m"},
      {"\"\\u65e5\"", "\"\346\227\245\""},
      {"\"\\U0001F600\"", "\"\360\237\230\200\""},
      {"\"\\377\"", "\"\\xff\""},
      {"\"\\xff\"", "\"\\xff\""},
      {"a{b=\"\"}", "a{b=\"\"}"},
      {"a{b=\"\",c!=\"\"}", "a{b=\"\",c!=\"\"}"},
      {"{b=~\".+\"}", "{b=~\".+\"}"},
      {"{__name__!=\"\"}", "{__name__!=\"\"}"},
      {"x{}", "x"},
      {"foo:bar{a=\"b\"}", "foo:bar{a=\"b\"}"},
      {":foo", ":foo"},
      {"foo:", "foo:"},
      {"_foo", "_foo"},
      {"sum(x) by (a) + 1", "sum by (a) (x) + 1"},
      {"99999999999999999999", "1e+20"},
      {"1e-400", "0"},
      {"4e-320", "4e-320"},
      {"x{a=~\"(a)\"}", "x{a=~\"(a)\"}"},
      {"x{a=\"a)(b\"}", "x{a=\"a)(b\"}"},
      {"\"a\\x41\\u0e69\\101\"", "\"aA\\u0e69A\""},
      {"\"a\\x41\\u0a0e9\\101\"", "\"aA\\u0a0e9A\""},
      {"\"ax41\\u0b0e9\\101\"", "\"ax41\\u0b0e9A\""},
      {"\"a\\x41\\u0b0e9\\1201\"", "\"aA\\u0b0e9P1\""},
      {"\"a\\x41\\u0ee9\\101\"", "\"aA\\u0ee9A\""},
      {"\"a\\x41\\u0b0e(9\\101\"", "\"aA\\u0b0e(9A\""},
      {"(x # c\n) == 1", "(x) == 1"},
      {"x{a=\"b\"} # c\n == bool 1 # d\n + 1", "x{a=\"b\"} == bool 1 + 1"},
      {"x @ start() # c\n offset 1m", "x @ start() offset 1m"},
      {"x[5m # c\n]", "x[5m]"},
      {"x{# c\n a=\"b\"}", "x{a=\"b\"}"},
      {"x != bool on(a) group_right(b) y", "x != bool on (a) group_right (b) y"},
      {"x>=bool-1", "x >= bool -1"},
      {"1>=bool-1", "1 >= bool -1"},
      {"-1 == bool -1", "-1 == bool -1"},
      {"x offset - 5m", "x offset -5m"},
      {"(x @ 1)[5m:]", "(x @ 1.000)[5m:]"},
  };
  return kCases;
}

const std::vector<Golden>& ErrorGoldens() {
  static const std::vector<Golden> kCases = {
      {"rate(1) + rate(2)",
       "1:6: parse error: expected type range vector in call to function \"rate\", got scalar"},
      {"0x1.8 + 1",
       "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x1.8\": invalid "
       "syntax"},
      {"1e999 + 1",
       "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e999\": value out "
       "of range"},
      {"1e",
       "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e\": invalid "
       "syntax"},
      {"inf{a=\"b\"}", "1:4: parse error: unexpected \"{\""},
      {"1_000", "1:1: parse error: bad number or duration syntax: \"1\""},
      {"1a", "1:1: parse error: bad number or duration syntax: \"1\""},
      {"1mm", "1:1: parse error: bad number or duration syntax: \"1mm\""},
      {"x[1hs]", "1:3: parse error: not a valid duration string: \"1hs\""},
      {"x[5]", "1:3: parse error: missing unit character in duration"},
      {"x[5m:1]",
       "1:6: parse error: unexpected number \"1\" in subquery selector, expected duration or "
       "\"]\""},
      {"5m", "1:1: parse error: unexpected duration \"5m\""},
      {"x @ 100 [5m]", "1:9: parse error: no @ modifiers allowed before range"},
      {"x offset 5m [5m]", "1:13: parse error: no offset modifiers allowed before range"},
      {"x[99999999999999999999y]", "1:3: parse error: duration out of range"},
      {"x[0s]", "1:3: parse error: duration must be greater than 0"},
      {"1[5m:]",
       "1:1: parse error: subquery is only allowed on instant vector, got scalar instead"},
      {"x[5m][5m:]",
       "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
      {"count_values(\"a\n\", x)", "1:14: parse error: unterminated quoted string"},
      {"foo{__name__=\"bar\"}",
       "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
      {"on", "1:1: parse error: unexpected <on>"},
      {"foo{__name__=\"bar\"} + foo{__name__=\"baz\"}",
       "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
      {"x[300y]", "1:3: parse error: duration out of range"},
      {"x[1000y]", "1:3: parse error: duration out of range"},
      {"x offset 300y", "1:10: parse error: duration out of range"},
      {"sum(rate(", "1:10: parse error: unclosed left parenthesis"},
      {"sum(up", "1:7: parse error: unclosed left parenthesis"},
      {"{a=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"1 +", "1:4: parse error: unexpected end of input"},
      {"1 + ", "1:5: parse error: unexpected end of input"},
      {"(1", "1:3: parse error: unclosed left parenthesis"},
      {"1)", "1:3: parse error: unexpected right parenthesis ')'"},
      {")", "1:2: parse error: unexpected right parenthesis ')'"},
      {"x[5m", "1:5: parse error: unclosed left bracket"},
      {"x]", "1:2: parse error: unexpected right bracket ']'"},
      {"[", "1:1: parse error: unexpected \"[\""},
      {"x[5m:1m:1m]", "1:8: parse error: unexpected colon ':'"},
      {"x[[5m]]", "1:3: parse error: missing unit character in duration"},
      {"{a=\"b\"", "1:7: parse error: unexpected end of input inside braces"},
      {"{a=\"b\",", "1:8: parse error: unexpected end of input inside braces"},
      {"{a=}", "1:4: parse error: unexpected \"}\" in label matching, expected string"},
      {"{a}",
       "1:3: parse error: unexpected \"}\" in label matching, expected label matching operator"},
      {"{a=b}", "1:4: parse error: unexpected identifier \"b\" in label matching, expected string"},
      {"{=}", "1:2: parse error: unexpected \"=\" in label matching, expected identifier or \"}\""},
      {"{,}", "1:2: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
      {"{a=\"b\",,}",
       "1:8: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
      {"{a=\"b\" c=\"d\"}",
       "1:8: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\""},
      {"{1=\"b\"}", "1:2: parse error: unexpected character inside braces: '1'"},
      {"x{a=\"b\"}{c=\"d\"}", "1:9: parse error: unexpected \"{\""},
      {"x y", "1:3: parse error: unexpected identifier \"y\""},
      {"x 1", "1:3: parse error: unexpected number \"1\""},
      {"1 x", "1:3: parse error: unexpected identifier \"x\""},
      {"sum(x, y)",
       "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, "
       "got 2"},
      {"sum()", "1:1: parse error: no arguments for aggregate expression provided"},
      {"topk(x)",
       "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, "
       "got 1"},
      {"topk(1, 2, x)",
       "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, "
       "got 3"},
      {"quantile(\"a\", x)",
       "1:10: parse error: expected type scalar in aggregation parameter, got string"},
      {"count_values(1, x)",
       "1:14: parse error: expected type string in aggregation parameter, got scalar"},
      {"sum(x) by", "1:10: parse error: unexpected end of input in grouping opts, expected \"(\""},
      {"sum(x) by (", "1:12: parse error: unclosed left parenthesis"},
      {"sum(x) by (a", "1:13: parse error: unclosed left parenthesis"},
      {"sum(x) by (a,", "1:14: parse error: unclosed left parenthesis"},
      {"sum(x) by (a,,b)", "1:14: parse error: unexpected \",\" in grouping opts, expected label"},
      {"sum(x) by (1)",
       "1:12: parse error: unexpected number \"1\" in grouping opts, expected label"},
      {"sum(x) by (\"a\")",
       "1:12: parse error: unexpected string \"\\\"a\\\"\" in grouping opts, expected label"},
      {"sum by (a) by (b) (x)", "1:12: parse error: unexpected <by> in aggregation"},
      {"sum by (a) (x) by (b)", "1:16: parse error: unexpected <by>"},
      {"foo()", "1:1: parse error: unknown function with name \"foo\""},
      {"foo(x)", "1:1: parse error: unknown function with name \"foo\""},
      {"rate()", "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 0"},
      {"rate(x[5m], 1)", "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 2"},
      {"rate(x[5m],)", "1:11: parse error: trailing commas not allowed in function call args"},
      {"round(x, 1, 2)",
       "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"},
      {"label_join(x)",
       "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1"},
      {"time(1)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
      {"vector(\"a\")",
       "1:8: parse error: expected type scalar in call to function \"vector\", got string"},
      {"histogram_quantile(x, 0.5)",
       "1:20: parse error: expected type scalar in call to function \"histogram_quantile\", got "
       "instant vector"},
      {"x + on(a) group_left(a) y",
       "1:3: parse error: label \"a\" must not occur in ON and GROUP clause at once"},
      {"x and bool y", "1:3: parse error: bool modifier can only be used on comparison operators"},
      {"x + bool y", "1:3: parse error: bool modifier can only be used on comparison operators"},
      {"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
      {"1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
      {"x and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
      {"x + on(a) 1", "1:1: parse error: vector matching only allowed between instant vectors"},
      {"x and on(a) group_left y", "1:1: parse error: no grouping allowed for \"and\" operation"},
      {"x or on(a) group_right(b) y", "1:1: parse error: no grouping allowed for \"or\" operation"},
      {"x[5m] + 1",
       "1:1: parse error: binary expression must contain only scalar and instant vector types"},
      {"\"a\" + 1",
       "1:1: parse error: binary expression must contain only scalar and instant vector types"},
      {"-\"a\"",
       "1:1: parse error: unary expression only allowed on expressions of type scalar or instant "
       "vector, got \"string\""},
      {"-x[5m]",
       "1:1: parse error: unary expression only allowed on expressions of type scalar or instant "
       "vector, got \"range vector\""},
      {"x offset", "1:9: parse error: unexpected end of input in offset, expected duration"},
      {"x offset 5", "1:10: parse error: unexpected number \"5\" in offset, expected duration"},
      {"x offset -", "1:11: parse error: unexpected end of input in offset, expected duration"},
      {"x offset -5m offset 1m", "1:1: parse error: offset may not be set multiple times"},
      {"(x) offset 5m",
       "1:1: parse error: offset modifier must be preceded by an instant vector selector or range "
       "vector selector or a subquery"},
      {"1 offset 5m",
       "1:1: parse error: offset modifier must be preceded by an instant vector selector or range "
       "vector selector or a subquery"},
      {"sum(x) offset 5m",
       "1:1: parse error: offset modifier must be preceded by an instant vector selector or range "
       "vector selector or a subquery"},
      {"x @", "1:4: parse error: unexpected end of input in @, expected timestamp"},
      {"x @ a", "1:5: parse error: unexpected identifier \"a\" in @, expected timestamp"},
      {"x @ start", "1:10: parse error: unexpected end of input in @, expected timestamp"},
      {"x @ start(", "1:11: parse error: unclosed left parenthesis"},
      {"x @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"},
      {"x @ Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
      {"x @ 1e20",
       "1:1: parse error: timestamp out of bounds for @ modifier: 100000000000000000000.000000"},
      {"(x) @ 5",
       "1:1: parse error: @ modifier must be preceded by an instant vector selector or range "
       "vector selector or a subquery"},
      {"x @ end() @ start()", "1:1: parse error: @ <timestamp> may not be set multiple times"},
      {"x[5m] @ 100 @ 100", "1:1: parse error: @ <timestamp> may not be set multiple times"},
      {"1 + * 2", "1:5: parse error: unexpected <op:*>"},
      {"x sum", "1:3: parse error: unexpected <aggr:sum>"},
      {"x topk", "1:3: parse error: unexpected <aggr:topk>"},
      {"x and", "1:6: parse error: unexpected end of input"},
      {"x start", "1:3: parse error: unexpected \"start\""},
      {"x end", "1:3: parse error: unexpected \"end\""},
      {"x @ 1 @", "1:8: parse error: unexpected end of input in @, expected timestamp"},
      {"@", "1:1: parse error: unexpected \"<Item 57385>\" <op:@>"},
      {"x[5m] x", "1:7: parse error: unexpected identifier \"x\""},
      {"x ;", "1:3: parse error: unexpected character: ';'"},
      {"x \"abcdefghijklmnop\"", "1:3: parse error: unexpected string \"\\\"abcdefghi\"..."},
      {"x \"abc\"", "1:3: parse error: unexpected string \"\\\"abc\\\"\""},
      {"x 5m", "1:3: parse error: unexpected duration \"5m\""},
      {"x:y x:y", "1:5: parse error: unexpected metric identifier \"x:y\""},
      {"x[5m] @ start() [1m]", "1:17: parse error: ranges only allowed for vector selectors"},
      {"x[9223372036855ms]", "1:3: parse error: duration out of range"},
      {"x[106752d]", "1:3: parse error: duration out of range"},
      {"x < bool", "1:9: parse error: unexpected end of input"},
      {"x = 1", "1:3: parse error: unexpected \"=\""},
      {"x =~ 1", "1:3: parse error: unexpected character after '=': '~'"},
      {"x ! 1", "1:3: parse error: unexpected character after '!': ' '"},
      {"x == == 1", "1:6: parse error: unexpected <op:==>"},
      {"sum(x) without",
       "1:15: parse error: unexpected end of input in grouping opts, expected \"(\""},
      {"sum without(a) (x) without(b)", "1:20: parse error: unexpected <without>"},
      {"sum(a b)", "1:7: parse error: unexpected identifier \"b\" in aggregation"},
      {"rate(x y)", "1:8: parse error: unexpected identifier \"y\""},
      {"rate(x[5m] y)", "1:12: parse error: unexpected identifier \"y\""},
      {"(x y)", "1:4: parse error: unexpected identifier \"y\""},
      {"(x", "1:3: parse error: unclosed left parenthesis"},
      {"(x]", "1:3: parse error: unexpected right bracket ']'"},
      {"x[5m)", "1:6: parse error: unexpected right parenthesis ')'"},
      {"x[5m:]]", "1:7: parse error: unexpected right bracket ']'"},
      {"x @ 100 offset 1h [5m]", "1:19: parse error: no offset modifiers allowed before range"},
      {"# only", "1:1: parse error: no expression found in input"},
      {"x\n  +\n  (y", "3:5: parse error: unclosed left parenthesis"},
      {"ab{a=\"\\q\"}", "1:6: parse error: unknown escape sequence U+0071 'q'"},
      {"a{a=\"\\u12\"}", "1:5: parse error: illegal character U+0022 '\"' in escape sequence"},
      {"a{a=\"\\'\"}", "1:5: parse error: unknown escape sequence U+0027 '''"},
      {"a{a='\\\"'}", "1:5: parse error: unknown escape sequence U+0022 '\"'"},
      {"a{a=\"x\\z\"}", "1:5: parse error: unknown escape sequence U+007A 'z'"},
      {"\"\\z\"", "1:1: parse error: unknown escape sequence U+007A 'z'"},
      {"\"abc", "1:1: parse error: unterminated quoted string"},
      {"'abc", "1:1: parse error: unterminated quoted string"},
      {"`abc", "1:1: parse error: unterminated raw string"},
      {"a{a=\"b\"", "1:8: parse error: unexpected end of input inside braces"},
      {"a{b!~\"c(\"}", "1:3: parse error: error parsing regexp: missing closing ): `^(?:c()$`"},
      {"a{b=~\"c(\"}", "1:3: parse error: error parsing regexp: missing closing ): `^(?:c()$`"},
      {"a{b=~\"\\\\p{Foo}\"}",
       "1:3: parse error: error parsing regexp: invalid character class range: `\\p{Foo}`"},
      {"sum by (on, by, offset, sum, group_left, bool, start, end, atan2, and, nan, inf) (x)",
       "1:72: parse error: unexpected number \"nan\" in grouping opts, expected label"},
      {"sum by (a:b) (x)",
       "1:9: parse error: unexpected metric identifier \"a:b\" in grouping opts, expected label"},
      {"x offset 5m offset 1m", "1:1: parse error: offset may not be set multiple times"},
      {"x offset 5m @ 1 offset 1m", "1:1: parse error: offset may not be set multiple times"},
      {"x offset 1m [5m]", "1:13: parse error: no offset modifiers allowed before range"},
      {"x[5m][5m]", "1:6: parse error: ranges only allowed for vector selectors"},
      {"x[5m] offset 1m [1m:]",
       "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
      {"x[5m:] offset 1m [1m:]",
       "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
      {"x[5m:][1m:]",
       "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
      {"1 + 2 @ 5",
       "1:5: parse error: @ modifier must be preceded by an instant vector selector or range "
       "vector selector or a subquery"},
      {"x[", "1:3: parse error: missing unit character in duration"},
      {"x[]", "1:3: parse error: missing unit character in duration"},
      {"x[ ]", "1:4: parse error: missing unit character in duration"},
      {"foo(", "1:5: parse error: unclosed left parenthesis"},
      {"foo(x) ;", "1:1: parse error: unknown function with name \"foo\""},
      {"sum() ;", "1:7: parse error: unexpected character: ';'"},
      {"sum(x) ;", "1:8: parse error: unexpected character: ';'"},
      {"sum(x) by (a) ;", "1:15: parse error: unexpected character: ';'"},
      {"rate(x[5m]) ;", "1:13: parse error: unexpected character: ';'"},
      {"- x [5m:]",
       "1:1: parse error: unary expression only allowed on expressions of type scalar or instant "
       "vector, got \"range vector\""},
      {"`raw\\z` + \"q\"",
       "1:1: parse error: binary expression must contain only scalar and instant vector types"},
      {"x offset 0s", "1:10: parse error: duration must be greater than 0"},
      {"x offset -0s", "1:11: parse error: duration must be greater than 0"},
      {"sum foo", "1:5: parse error: unexpected identifier \"foo\""},
      {"sum by (a) foo", "1:12: parse error: unexpected identifier \"foo\" in aggregation"},
      {"sum(rate(x y))", "1:12: parse error: unexpected identifier \"y\" in aggregation"},
      {"rate(sum(x y))", "1:12: parse error: unexpected identifier \"y\" in aggregation"},
      {"sum(x +)", "1:8: parse error: unexpected \")\" in aggregation"},
      {"sum(x) by (a) (y)", "1:15: parse error: unexpected \"(\""},
      {"sum by (a b) (x)",
       "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\""},
      {"sum by a (x)",
       "1:8: parse error: unexpected identifier \"a\" in grouping opts, expected \"(\""},
      {"sum by (a) by", "1:12: parse error: unexpected <by> in aggregation"},
      {"x * on(a) group_left 1",
       "1:1: parse error: vector matching only allowed between instant vectors"},
      {"x * on(a) group_left(b c) y",
       "1:24: parse error: unexpected identifier \"c\" in grouping opts, expected \",\" or \")\""},
      {"x * on a y",
       "1:8: parse error: unexpected identifier \"a\" in grouping opts, expected \"(\""},
      {"x * on(a) group_left(1) y",
       "1:22: parse error: unexpected number \"1\" in grouping opts, expected label"},
      {"rate(,)", "1:6: parse error: unexpected \",\""},
      {"rate(x,,y)", "1:7: parse error: trailing commas not allowed in function call args"},
      {"(1,2)", "1:3: parse error: unexpected \",\""},
      {"()", "1:2: parse error: unexpected \")\""},
      {"sum(x,)", "1:6: parse error: trailing commas not allowed in function call args"},
      {"x @ start 5", "1:11: parse error: unexpected number \"5\" in @, expected timestamp"},
      {"x @ - foo", "1:7: parse error: unexpected identifier \"foo\" in @, expected timestamp"},
      {"x @ start() 1", "1:13: parse error: unexpected number \"1\""},
      {"x @ end(1)", "1:9: parse error: unexpected number \"1\" in @, expected timestamp"},
      {"x[5m:1m 1]",
       "1:9: parse error: unexpected number \"1\" in subquery selector, expected \"]\""},
      {"x[5m 1m]",
       "1:6: parse error: unexpected duration \"1m\" in subquery or range, expected \":\" or "
       "\"]\""},
      {"x[foo]", "1:3: parse error: bad duration syntax: \"\""},
      {"x[5d5]", "1:3: parse error: bad duration syntax: \"5d5\""},
      {"x[5m foo]", "1:7: parse error: unexpected colon 'o'"},
      {"x[5m:foo]", "1:6: parse error: unexpected colon 'f'"},
      {"x[5m:1m foo]", "1:9: parse error: unexpected colon 'f'"},
      {"x[-5m]", "1:3: parse error: missing unit character in duration"},
      {"x[1.5m]", "1:3: parse error: not a valid duration string: \"1.5m\""},
      {"x offset 1.5m", "1:10: parse error: not a valid duration string: \"1.5m\""},
      {"x offset foo",
       "1:10: parse error: unexpected identifier \"foo\" in offset, expected duration"},
      {"x offset 5m5", "1:10: parse error: bad number or duration syntax: \"5m5\""},
      {"x offset (5m)", "1:10: parse error: unexpected \"(\" in offset, expected duration"},
      {"rate(x[5m]) offset 5m",
       "1:1: parse error: offset modifier must be preceded by an instant vector selector or range "
       "vector selector or a subquery"},
      {"x{a=\"b\"}}", "1:9: parse error: unexpected character: '}'"},
      {"x}", "1:2: parse error: unexpected character: '}'"},
      {"}", "1:1: parse error: unexpected character: '}'"},
      {"{", "1:2: parse error: unexpected end of input inside braces"},
      {"x{", "1:3: parse error: unexpected end of input inside braces"},
      {"by(by)", "1:3: parse error: unexpected \"(\""},
      {"x == bool", "1:10: parse error: unexpected end of input"},
      {"x ==", "1:5: parse error: unexpected end of input"},
      {"x == on(a)", "1:11: parse error: unexpected end of input"},
      {"x == on(a) bool y", "1:12: parse error: unexpected <bool>"},
      {"1 + \"a\"",
       "1:5: parse error: binary expression must contain only scalar and instant vector types"},
      {"\"a\" \"b\"", "1:5: parse error: unexpected string \"\\\"b\\\"\""},
      {"1 2", "1:3: parse error: unexpected number \"2\""},
      {"x offset 5m 1", "1:13: parse error: unexpected number \"1\""},
      {"+", "1:2: parse error: unexpected end of input"},
      {"-", "1:2: parse error: unexpected end of input"},
      {"-\"", "1:2: parse error: unterminated quoted string"},
      {"1 +\n", "2:1: parse error: unexpected end of input"},
      {"ignoring", "1:1: parse error: unexpected <ignoring>"},
      {"group_left", "1:1: parse error: unexpected <group_left>"},
      {"group_right", "1:1: parse error: unexpected <group_right>"},
      {"bool", "1:1: parse error: unexpected <bool>"},
      {"atan2", "1:1: parse error: unexpected <op:atan2>"},
      {"x[5m:1m f]", "1:9: parse error: unexpected colon 'f'"},
      {"0x",
       "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x\": invalid "
       "syntax"},
      {".e5", "1:1: parse error: unexpected character: '.'"},
      {"1.2.3", "1:4: parse error: unexpected number \".3\""},
      {"0b101", "1:1: parse error: bad number or duration syntax: \"0\""},
      {"0o17", "1:1: parse error: bad number or duration syntax: \"0\""},
      {"0xg", "1:1: parse error: bad number or duration syntax: \"0x\""},
      {"1e5m", "1:1: parse error: unexpected duration \"1e5m\""},
      {"1m5", "1:1: parse error: bad number or duration syntax: \"1m5\""},
      {"1d2h3m4s5ms", "1:1: parse error: unexpected duration \"1d2h3m4s5m\"..."},
      {"5ms", "1:1: parse error: unexpected duration \"5ms\""},
      {"1y2y", "1:1: parse error: bad number or duration syntax: \"1y2\""},
      {"12ms3", "1:1: parse error: bad number or duration syntax: \"12ms3\""},
      {"x[1m1m]", "1:3: parse error: not a valid duration string: \"1m1m\""},
      {"x[1h2d]", "1:3: parse error: not a valid duration string: \"1h2d\""},
      {"x[0x5m]", "1:3: parse error: not a valid duration string: \"0x5m\""},
      {"x[5M]", "1:3: parse error: bad duration syntax: \"5\""},
      {"x[5Ms]", "1:3: parse error: bad duration syntax: \"5\""},
      {"\"\346\227\245\346\234\254\" + 1",
       "1:1: parse error: binary expression must contain only scalar and instant vector types"},
      {"\"\\ud800\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
      {"\"\\U00110000\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
      {"\"\\400\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
      {"\"\\a\\b\\f\n\\r\\t\\v\\\\\"", "1:1: parse error: unterminated quoted string"},
      {"{b=~\".*\"}",
       "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"{b!~\".+\"}",
       "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
      {"a{__name__=\"a\"}", "1:1: parse error: metric name must not be set twice: \"a\" or \"a\""},
      {"a{__name__=~\"a\"}", "1:1: parse error: metric name must not be set twice: \"a\" or \"a\""},
      {"a{__name__!=\"a\"}", "1:1: parse error: metric name must not be set twice: \"a\" or \"a\""},
      {"sum by (without) (x)",
       "1:9: parse error: unexpected <without> in grouping opts, expected label"},
      {"rate(x, on)", "1:7: parse error: trailing commas not allowed in function call args"},
      {"rate(x, ]", "1:9: parse error: unexpected right bracket ']'"},
      {"x * group_left y", "1:5: parse error: unexpected <group_left>"},
      {"x * on(a) group_left (y)", "1:25: parse error: unexpected end of input"},
      {"x @ -Inf", "1:1: parse error: timestamp out of bounds for @ modifier: -Inf"},
      {"x @ NaN", "1:1: parse error: timestamp out of bounds for @ modifier: NaN"},
      {"x offset 5m @ start() [1m]", "1:23: parse error: no offset modifiers allowed before range"},
      {"0xFFFFFFFFFFFFFFFFFF",
       "1:1: parse error: error parsing number: strconv.ParseFloat: parsing "
       "\"0xFFFFFFFFFFFFFFFFFF\": invalid syntax"},
      {"0x8000000000000000",
       "1:1: parse error: error parsing number: strconv.ParseFloat: parsing "
       "\"0x8000000000000000\": invalid syntax"},
      {"x{a=~\"a)|(b\"}", "1:3: parse error: error parsing regexp: unexpected ): `a)|(b`"},
      {"x{a=~\"a.*}) and absent(NaN[1w:1h][1w:1d], up{__name__=\"}",
       "1:3: parse error: error parsing regexp: unexpected ): `a.*}) and absent(NaN[1w:1h][1w:1d], "
       "up{__name__=`"},
      {"x{a!~\"a)(b\"}", "1:3: parse error: error parsing regexp: unexpected ): `a)(b`"},
      {"(x{a=~\"b\",job=~\"a.*}) and absent(NaN[1w:1h][1w:1d], up{__name__=\".+\",le!=\"x|y\",}, "
       "count by (a) (topk(x, -3) by ()))[1h:1y]",
       "1:11: parse error: error parsing regexp: unexpected ): `a.*}) and "
       "absent(NaN[1w:1h][1w:1d], up{__name__=`"},
      {"((stddev(by{on!~\",le=`d+`}) without (a, b) unless bottomk by () (0.9, "
       "+by{a=~\"x|y\",__name__=~\".+\",})))",
       "1:13: parse error: error parsing regexp: unexpected ): `,le=`d+`}) without (a, b) unless "
       "bottomk by () (0.9, +by{a=~`"},
      {"(sum{a=\"a.*\",le!~'c} < ignoring(a) 1) >= bool offset ^ on() group_right(c) avg by () "
       "(foo:bar offset -1w) <= on(job) group_left ({on=`d+`,job!='c',}[1y:1d] offset -1y * 't' % "
       "bool ignoring(le,a) group_right(c) sum{on=\"b\",} offset 1h30m)",
       "1:14: parse error: error parsing regexp: unexpected ): `c} < ignoring(a) 1) >= bool offset "
       "^ on() group_right(c) avg by () (foo:bar offset -1w) <= on(job) group_left "
       "({on=`d+`,job!=`"},
      {"-(time((up{on!~`d+`,a!=\".+\",__name__=~\"a.*\",} offset 30s), topk by (a) (3, up offset "
       "-30s))) / ignoring(job) group_right",
       "1:121: parse error: unexpected end of input in grouping opts, expected \"(\""},
      {"x "
       "\"\346\227\245\346\234\254\350\252\236\346\227\245\346\234\254\350\252\236\346\227\245\346"
       "\234\254\350\252\236\346\227\245\346\234\254\350\252\236\"",
       "1:3: parse error: unexpected string "
       "\"\\\"\346\227\245\346\234\254\350\252\236\346\227\245\346\234\254\350\252\236\346\227\245"
       "\346\234\254\350\252\236\"..."},
      {"x \"\346\227\245\346\234\254\"",
       "1:3: parse error: unexpected string \"\\\"\346\227\245\346\234\254\\\"\""},
      {"x 1234567890123", "1:3: parse error: unexpected number \"1234567890\"..."},
      {"x 12345678901h", "1:3: parse error: unexpected duration \"1234567890\"..."},
      {"x 1 # c", "1:3: parse error: unexpected number \"1\""},
      {"x # c\n 1", "2:2: parse error: unexpected number \"1\""},
      {"1 # c\n == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
      {"sum(x) by (a) # c\n (y)", "2:2: parse error: unexpected \"(\""},
      {"x[5m] # c\n [1m]", "2:2: parse error: ranges only allowed for vector selectors"},
      {"foo bar baz", "1:5: parse error: unexpected identifier \"bar\""},
      {"sum(x) by (a) by (b)", "1:15: parse error: unexpected <by>"},
      {"x =", "1:3: parse error: unexpected \"=\""},
      {"x !=", "1:5: parse error: unexpected end of input"},
      {"x ==bool", "1:9: parse error: unexpected end of input"},
      {"x offset -5m5", "1:11: parse error: bad number or duration syntax: \"5m5\""},
      {"topk(3, x) offset 5m",
       "1:1: parse error: offset modifier must be preceded by an instant vector selector or range "
       "vector selector or a subquery"},
      {"x @ start() @ end()", "1:1: parse error: @ <timestamp> may not be set multiple times"},
  };
  return kCases;
}

ExprPtr MustParse(std::string_view q) {
  Result<ExprPtr> r = ParseExpr(q);
  EXPECT_TRUE(r.ok()) << q << ": " << r.status().message();
  return r.ok() ? std::move(*r) : nullptr;
}

std::string ErrorOf(std::string_view q) {
  Result<ExprPtr> r = ParseExpr(q);
  if (r.ok()) return "parsed as " + (*r)->ToString();
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

// A fully parenthesized rendering of the tree's shape: binary nodes in (), unary ops prefixed.
std::string Shape(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      return "(" + Shape(*b.lhs) + " " + std::string(BinaryOpName(b.op)) + " " + Shape(*b.rhs) +
             ")";
    }
    case ExprKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      return std::string(1, u.op) + Shape(*u.expr);
    }
    case ExprKind::kParen:
      return "[" + Shape(*static_cast<const ParenExpr&>(e).expr) + "]";
    default:
      return e.ToString();
  }
}

TEST(ParserTest, PrintsTheCanonicalTextPrometheusPrints) {
  for (const Golden& g : FormatGoldens()) {
    ExprPtr e = MustParse(g.input);
    if (e == nullptr) continue;
    EXPECT_EQ(e->ToString(), g.want) << "input: " << g.input;
  }
}

TEST(ParserTest, PrintedTextParsesToTheSameText) {
  for (const Golden& g : FormatGoldens()) {
    ExprPtr e = MustParse(g.input);
    if (e == nullptr) continue;
    const std::string printed = e->ToString();
    ExprPtr again = MustParse(printed);
    if (again == nullptr) continue;
    EXPECT_EQ(again->ToString(), printed) << "input: " << g.input;
    EXPECT_EQ(again->Type(), e->Type()) << "input: " << g.input;
  }
}

TEST(ParserTest, ReportsTheErrorsPrometheusReports) {
  for (const Golden& g : ErrorGoldens()) {
    EXPECT_EQ(ErrorOf(g.input), g.want) << "input: " << g.input;
  }
}

TEST(ParserTest, AppliesPrometheusPrecedenceAndAssociativity) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"1 + 2 * 3", "(1 + (2 * 3))"},
      {"1 * 2 + 3", "((1 * 2) + 3)"},
      {"a - b - c", "((a - b) - c)"},
      {"a / b * c % d", "(((a / b) * c) % d)"},
      {"2 ^ 3 ^ 2", "(2 ^ (3 ^ 2))"},
      {"a + b * c ^ d", "(a + (b * (c ^ d)))"},
      {"a atan2 b * c", "((a atan2 b) * c)"},
      {"a == b != c", "((a == b) != c)"},
      {"a + b > c", "((a + b) > c)"},
      {"a > b and c", "((a > b) and c)"},
      {"a or b and c unless d", "(a or ((b and c) unless d))"},
      {"a unless b or c", "((a unless b) or c)"},
      {"a + b > c and d or e", "((((a + b) > c) and d) or e)"},
      // Unary minus binds like `*`: tighter than + and *, looser than ^ (so -2^2 is -4).
      {"-2 ^ 2", "-(2 ^ 2)"},
      {"-a * b", "(-a * b)"},
      {"-a + b", "(-a + b)"},
      {"a * -b", "(a * -b)"},
      {"a * -b + c", "((a * -b) + c)"},
      {"1 * -2 ^ 2", "(1 * -(2 ^ 2))"},
      {"2 ^ -x ^ 3", "(2 ^ -(x ^ 3))"},
      {"a ^ -b * c", "((a ^ -b) * c)"},
      {"- -x", "--x"},
      {"-(a + b) * c", "(-[(a + b)] * c)"},
      // Postfix modifiers attach to the closest operand.
      {"a + b offset 5m", "(a + b offset 5m)"},
      {"-x offset 5m", "-x offset 5m"},
      {"a * b @ 5", "(a * b @ 5.000)"},
  };
  for (const auto& [in, want] : cases) {
    ExprPtr e = MustParse(in);
    if (e != nullptr) {
      EXPECT_EQ(Shape(*e), want) << in;
    }
  }
}

TEST(ParserTest, FoldsUnarySignsIntoNumberLiterals) {
  ExprPtr e = MustParse("-1");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->kind, ExprKind::kNumber);
  EXPECT_EQ(static_cast<const NumberLiteral&>(*e).value, -1);
  EXPECT_EQ(e->pos.start, 0);
  e = MustParse("- -1");
  ASSERT_EQ(e->kind, ExprKind::kNumber);
  EXPECT_EQ(static_cast<const NumberLiteral&>(*e).value, 1);
  e = MustParse("-(1)");
  EXPECT_EQ(e->kind, ExprKind::kUnary);
}

TEST(ParserTest, ParsesNumberLiterals) {
  const std::vector<std::pair<std::string, double>> cases = {
      {"1", 1},        {"1.5", 1.5}, {".5", 0.5},    {"5.", 5},     {"1e3", 1000},
      {"1E-3", 0.001}, {"0x1F", 31}, {"0X1f", 31},   {"017", 15},   {"019", 19},
      {"08.5", 8.5},   {"00", 0},    {"0x1e5", 485}, {"1e-400", 0}, {"99999999999999999999", 1e20},
  };
  for (const auto& [in, want] : cases) {
    ExprPtr e = MustParse(in);
    ASSERT_NE(e, nullptr) << in;
    ASSERT_EQ(e->kind, ExprKind::kNumber) << in;
    EXPECT_EQ(static_cast<const NumberLiteral&>(*e).value, want) << in;
  }
  for (const char* in : {"Inf", "inf", "+INF", "-Inf", "NaN", "nan"}) {
    ExprPtr e = MustParse(in);
    ASSERT_NE(e, nullptr) << in;
    const double v = static_cast<const NumberLiteral&>(*e).value;
    if (in[0] == 'N' || in[0] == 'n') {
      EXPECT_TRUE(std::isnan(v)) << in;
    } else {
      EXPECT_TRUE(std::isinf(v)) << in;
      EXPECT_EQ(v < 0, in[0] == '-') << in;
    }
  }
}

TEST(ParserTest, UnescapesStringLiterals) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("plain")", "plain"},
      {R"("a\nb\tc\\d\"e")", "a\nb\tc\\d\"e"},
      {R"('it\'s')", "it's"},
      {R"('say "hi"')", "say \"hi\""},
      {R"("\x41\101\u00e9\U0001F600")", "AA\xc3\xa9\xf0\x9f\x98\x80"},
      {R"("\377")", "\xff"},
      {R"("\a\b\f\r\v")", "\a\b\f\r\v"},
      {"`raw \\n \\d+ '\"`", "raw \\n \\d+ '\""},
      {"`two\nlines`", "two\nlines"},
  };
  for (const auto& [in, want] : cases) {
    ExprPtr e = MustParse(in);
    ASSERT_NE(e, nullptr) << in;
    ASSERT_EQ(e->kind, ExprKind::kString) << in;
    EXPECT_EQ(static_cast<const StringLiteral&>(*e).value, want) << in;
  }
}

TEST(ParserTest, BuildsVectorSelectors) {
  ExprPtr e = MustParse(R"(http_requests_total{job="api", code=~"5..", path!="/", on!~"x"})");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->kind, ExprKind::kVectorSelector);
  const auto& vs = static_cast<const VectorSelector&>(*e);
  EXPECT_EQ(vs.name, "http_requests_total");
  ASSERT_EQ(vs.matchers.size(), 5u);
  EXPECT_EQ(vs.matchers[0].name(), "__name__");  // The name matcher comes first.
  EXPECT_EQ(vs.matchers[0].value(), "http_requests_total");
  EXPECT_EQ(vs.matchers[1].name(), "job");
  EXPECT_EQ(vs.matchers[1].type(), tsdb::MatchType::kEqual);
  EXPECT_EQ(vs.matchers[2].type(), tsdb::MatchType::kRegexMatch);
  EXPECT_TRUE(vs.matchers[2].Matches("503"));
  EXPECT_FALSE(vs.matchers[2].Matches("5030"));  // Anchored.
  EXPECT_EQ(vs.matchers[3].type(), tsdb::MatchType::kNotEqual);
  EXPECT_EQ(vs.matchers[4].name(), "on");  // Keywords are plain label names inside braces.
  EXPECT_EQ(vs.matchers[4].type(), tsdb::MatchType::kRegexNoMatch);
  EXPECT_EQ(vs.offset_ms, 0);
  EXPECT_EQ(vs.at.kind, AtKind::kNone);
  EXPECT_EQ(e->Type(), ValueType::kVector);

  e = MustParse(R"({__name__=~"node_.*"})");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(static_cast<const VectorSelector&>(*e).name, "");
  EXPECT_EQ(static_cast<const VectorSelector&>(*e).matchers.size(), 1u);

  // Metric names may contain colons and may be keywords.
  for (const char* name : {"foo:bar:rate5m", ":x", "sum", "by", "offset", "start", "and"}) {
    e = MustParse(name);
    ASSERT_NE(e, nullptr) << name;
    ASSERT_EQ(e->kind, ExprKind::kVectorSelector) << name;
    EXPECT_EQ(static_cast<const VectorSelector&>(*e).name, name);
  }
}

TEST(ParserTest, BuildsOffsetAndAtModifiers) {
  ExprPtr e = MustParse("x offset 5m @ 100.5");
  ASSERT_NE(e, nullptr);
  const auto& vs = static_cast<const VectorSelector&>(*e);
  EXPECT_EQ(vs.offset_ms, 300000);
  EXPECT_EQ(vs.at.kind, AtKind::kTimestamp);
  EXPECT_EQ(vs.at.timestamp_ms, 100500);

  e = MustParse("x @ end() offset -1h30m");
  const auto& vs2 = static_cast<const VectorSelector&>(*e);
  EXPECT_EQ(vs2.offset_ms, -5400000);
  EXPECT_EQ(vs2.at.kind, AtKind::kEnd);

  e = MustParse("x @ -1.0005");
  EXPECT_EQ(static_cast<const VectorSelector&>(*e).at.timestamp_ms, -1001);  // Half away from 0.

  e = MustParse("rate(x[5m] @ start() offset 1d)");
  ASSERT_EQ(e->kind, ExprKind::kCall);
  const auto& call = static_cast<const Call&>(*e);
  ASSERT_EQ(call.args[0]->kind, ExprKind::kMatrixSelector);
  const auto& ms = static_cast<const MatrixSelector&>(*call.args[0]);
  EXPECT_EQ(ms.range_ms, 300000);
  EXPECT_EQ(ms.selector->offset_ms, 86400000);
  EXPECT_EQ(ms.selector->at.kind, AtKind::kStart);
  EXPECT_EQ(ms.Type(), ValueType::kMatrix);
}

TEST(ParserTest, BuildsSubqueries) {
  ExprPtr e = MustParse("max_over_time(rate(x[1m])[1h:30s] offset 5m)");
  ASSERT_NE(e, nullptr);
  const auto& call = static_cast<const Call&>(*e);
  ASSERT_EQ(call.args[0]->kind, ExprKind::kSubquery);
  const auto& sq = static_cast<const SubqueryExpr&>(*call.args[0]);
  EXPECT_EQ(sq.range_ms, 3600000);
  EXPECT_EQ(sq.step_ms, 30000);
  EXPECT_EQ(sq.offset_ms, 300000);
  EXPECT_EQ(sq.expr->kind, ExprKind::kCall);

  e = MustParse("x[5m:]");
  EXPECT_EQ(static_cast<const SubqueryExpr&>(*e).step_ms, 0);
  EXPECT_EQ(e->Type(), ValueType::kMatrix);
  // Whitespace inside brackets is allowed.
  EXPECT_EQ(MustParse("x[ 5m : 1m ]")->ToString(), "x[5m:1m]");
}

TEST(ParserTest, BuildsAggregations) {
  ExprPtr e = MustParse("topk by (a, on) (3, x)");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->kind, ExprKind::kAggregate);
  const auto& a = static_cast<const AggregateExpr&>(*e);
  EXPECT_EQ(a.op, AggregateOp::kTopk);
  ASSERT_NE(a.param, nullptr);
  EXPECT_EQ(a.param->kind, ExprKind::kNumber);
  EXPECT_EQ(a.grouping, (std::vector<std::string>{"a", "on"}));
  EXPECT_FALSE(a.without);

  e = MustParse(R"(count_values("v", x) without (b,))");
  const auto& cv = static_cast<const AggregateExpr&>(*e);
  EXPECT_EQ(cv.op, AggregateOp::kCountValues);
  EXPECT_EQ(cv.param->kind, ExprKind::kString);
  EXPECT_TRUE(cv.without);
  EXPECT_EQ(cv.grouping, std::vector<std::string>{"b"});

  e = MustParse("sum(x)");
  EXPECT_EQ(static_cast<const AggregateExpr&>(*e).param, nullptr);
  EXPECT_TRUE(static_cast<const AggregateExpr&>(*e).grouping.empty());
  EXPECT_EQ(e->Type(), ValueType::kVector);
}

TEST(ParserTest, BuildsVectorMatching) {
  ExprPtr e = MustParse("a * on (job) group_left (owner, team) b");
  ASSERT_NE(e, nullptr);
  const auto& b = static_cast<const BinaryExpr&>(*e);
  ASSERT_TRUE(b.matching.has_value());
  EXPECT_TRUE(b.matching->on);
  EXPECT_EQ(b.matching->card, Cardinality::kManyToOne);
  EXPECT_EQ(b.matching->matching_labels, std::vector<std::string>{"job"});
  EXPECT_EQ(b.matching->include, (std::vector<std::string>{"owner", "team"}));

  e = MustParse("a / ignoring (code) group_right b");
  const auto& r = static_cast<const BinaryExpr&>(*e);
  EXPECT_FALSE(r.matching->on);
  EXPECT_EQ(r.matching->card, Cardinality::kOneToMany);
  EXPECT_TRUE(r.matching->include.empty());

  e = MustParse("a > bool b");
  EXPECT_TRUE(static_cast<const BinaryExpr&>(*e).return_bool);
  EXPECT_EQ(static_cast<const BinaryExpr&>(*e).matching->card, Cardinality::kOneToOne);

  // Set operators match many-to-many.
  e = MustParse("a and b");
  EXPECT_EQ(static_cast<const BinaryExpr&>(*e).matching->card, Cardinality::kManyToMany);

  // No matching when a side is a scalar.
  e = MustParse("a + 1");
  EXPECT_FALSE(static_cast<const BinaryExpr&>(*e).matching.has_value());
  EXPECT_EQ(e->Type(), ValueType::kVector);
  e = MustParse("1 + 2");
  EXPECT_EQ(e->Type(), ValueType::kScalar);
}

TEST(ParserTest, ChecksFunctionSignatures) {
  ExprPtr e = MustParse(R"(label_join(x, "dst", ",", "a", "b", "c"))");
  ASSERT_NE(e, nullptr);
  const auto& c = static_cast<const Call&>(*e);
  EXPECT_EQ(c.func, LookupFunction("label_join"));
  EXPECT_EQ(c.args.size(), 6u);
  EXPECT_EQ(MustParse("round(x)")->ToString(), "round(x)");
  EXPECT_EQ(MustParse("round(x, 5)")->ToString(), "round(x, 5)");
  EXPECT_EQ(MustParse("hour()")->ToString(), "hour()");
  EXPECT_EQ(MustParse("time()")->Type(), ValueType::kScalar);
  EXPECT_EQ(MustParse("scalar(x)")->Type(), ValueType::kScalar);
  EXPECT_EQ(ErrorOf("hour(x, y)"),
            "1:1: parse error: expected at most 1 argument(s) in call to \"hour\", got 2");
  EXPECT_EQ(ErrorOf("label_join(x, \"a\", \"b\", 1)"),
            "1:25: parse error: expected type string in call to function \"label_join\", got "
            "scalar");
}

TEST(ParserTest, RecordsSourcePositions) {
  ExprPtr e = MustParse("sum(rate(x{a=\"b\"}[5m])) + -y offset 1m");
  ASSERT_NE(e, nullptr);
  const auto& b = static_cast<const BinaryExpr&>(*e);
  EXPECT_EQ(b.pos.start, 0);
  EXPECT_EQ(b.pos.end, 38);
  EXPECT_EQ(b.lhs->pos.start, 0);
  EXPECT_EQ(b.lhs->pos.end, 23);
  const auto& call = static_cast<const Call&>(*static_cast<const AggregateExpr&>(*b.lhs).expr);
  EXPECT_EQ(call.pos.start, 4);
  EXPECT_EQ(call.pos.end, 22);
  EXPECT_EQ(call.args[0]->pos.start, 9);
  EXPECT_EQ(call.args[0]->pos.end, 21);
  EXPECT_EQ(b.rhs->pos.start, 26);  // The unary minus.
  EXPECT_EQ(b.rhs->pos.end, 38);    // Through the offset's duration.
}

TEST(ParserTest, ReportsLineAndColumnOnLaterLines) {
  EXPECT_EQ(ErrorOf("sum(x)\n  by (a"), "2:8: parse error: unclosed left parenthesis");
  EXPECT_EQ(ErrorOf("x +\n\n  * y"), "3:3: parse error: unexpected <op:*>");
  // Columns count bytes, as Prometheus does.
  EXPECT_EQ(ErrorOf("\"\xc3\xa9\" + )"), "1:9: parse error: unexpected right parenthesis ')'");
}

TEST(ParserTest, IgnoresComments) {
  EXPECT_EQ(MustParse("x # first\n + # second\n y # end")->ToString(), "x + y");
  EXPECT_EQ(MustParse("x{a=\"b\", # inside braces\n c=\"d\"}")->ToString(), "x{a=\"b\",c=\"d\"}");
  EXPECT_EQ(ErrorOf("# nothing"), "1:1: parse error: no expression found in input");
  EXPECT_EQ(ErrorOf(""), "1:1: parse error: no expression found in input");
  EXPECT_EQ(ErrorOf("  \n "), "1:1: parse error: no expression found in input");
}

TEST(ParserTest, RejectsBadRegexesWithAParseError) {
  EXPECT_EQ(ErrorOf(R"(x{a=~"(("})"),
            "1:3: parse error: error parsing regexp: missing closing ): `^(?:(()$`");
  EXPECT_EQ(ErrorOf(R"(x{a!~"[z-a]"})"),
            "1:3: parse error: error parsing regexp: invalid character class range: `z-a`");
  EXPECT_EQ(ErrorOf(R"(x{a=~"*"})"),
            "1:3: parse error: error parsing regexp: missing argument to repetition operator: `*`");
}

TEST(ParserTest, RejectsOverflowingNumbersAndDurations) {
  EXPECT_EQ(ErrorOf("1e400"),
            "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e400\": value "
            "out of range");
  EXPECT_EQ(ErrorOf("0x10000000000000000"),
            "1:1: parse error: error parsing number: strconv.ParseFloat: parsing "
            "\"0x10000000000000000\": invalid syntax");
  EXPECT_EQ(ErrorOf("x[99999999999999999999999999s]"), "1:3: parse error: duration out of range");
  EXPECT_EQ(ErrorOf("x offset 9223372036855ms"), "1:10: parse error: duration out of range");
  EXPECT_EQ(MustParse("x[9223372036854ms]")->ToString(), "x[106751d23h47m16s854ms]");
  EXPECT_EQ(ErrorOf("x @ 1e19"),
            "1:1: parse error: timestamp out of bounds for @ modifier: "
            "10000000000000000000.000000");
  // In range for the check but not for int64 milliseconds: Prometheus (amd64) wraps to INT64_MIN.
  EXPECT_EQ(MustParse("x @ 1e16")->ToString(), "x @ -9223372036854776.000");
}

TEST(ParserTest, CapsNestingDepth) {
  auto nested = [](int n) { return std::string(n, '(') + "x" + std::string(n, ')'); };
  EXPECT_NE(MustParse(nested(900)), nullptr);
  const std::string err = ErrorOf(nested(5000));
  EXPECT_NE(err.find("expression nesting too deep"), std::string::npos) << err;

  std::string chain = "x";
  for (int i = 0; i < 5000; ++i) chain += " + x";
  EXPECT_NE(ErrorOf(chain).find("expression nesting too deep"), std::string::npos);
  std::string pow = "x";
  for (int i = 0; i < 5000; ++i) pow += " ^ x";
  EXPECT_NE(ErrorOf(pow).find("expression nesting too deep"), std::string::npos);
  EXPECT_NE(ErrorOf(std::string(100000, '-') + "x").find("expression nesting too deep"),
            std::string::npos);
  std::string calls;
  for (int i = 0; i < 3000; ++i) calls += "abs(";
  calls += "x" + std::string(3000, ')');
  EXPECT_NE(ErrorOf(calls).find("expression nesting too deep"), std::string::npos);
}

// Where this parser knowingly differs from Prometheus 2.42 (each checked against the peer):
TEST(ParserTest, DocumentedDifferencesFromPrometheus) {
  // 1. Prometheus has no nesting limit; we reject trees deeper than 1000 levels (CapsNestingDepth).
  // 2. Regex errors come from RE2, not Go's regexp: the wording is mapped to Go's, but the two
  //    engines disagree on a few constructs. Go rejects `\C`; RE2 accepts it.
  EXPECT_NE(MustParse(R"(x{a=~"\\C"})"), nullptr);
  // 3. Printable code points follow Unicode 14.0 (Go 1.19 has 13.0): U+0B0E is unassigned in
  //    both and printed escaped, as Prometheus does.
  EXPECT_EQ(MustParse("\"\\u0b0e\"")->ToString(), "\"\\u0b0e\"");
  // 4. U+FFFD prints as \ufffd; Prometheus prints it verbatim, which its own lexer then rejects.
  EXPECT_EQ(MustParse("\"\\ufffd\"")->ToString(), "\"\\ufffd\"");
  // 5. `Inf ^ 2` prints as "Inf ^ 2"; Prometheus prints "+Inf ^ 2", which it parses back as
  //    +(Inf ^ 2) and then prints "++Inf ^ 2". Without the sign printing is a fixed point.
  EXPECT_EQ(MustParse("Inf ^ 2")->ToString(), "Inf ^ 2");
  EXPECT_EQ(MustParse("- Inf ^ 2")->ToString(), "-Inf ^ 2");
  EXPECT_EQ(MustParse("Inf * 2")->ToString(), "+Inf * 2");  // Elsewhere the sign stays.
  // 6. `@` timestamps beyond about 2^42 s: Prometheus' "%.3f" text can parse back to another
  //    millisecond (it prints "x @ 4417001773362.114", which it reads as ...115 ms). We print the
  //    shortest decimal that reads back as the same millisecond.
  ExprPtr e = MustParse("x @ 4417001773362.113");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(static_cast<const VectorSelector&>(*e).at.timestamp_ms, 4417001773362114);
  EXPECT_EQ(e->ToString(), "x @ 4417001773362.113");
  EXPECT_EQ(MustParse(e->ToString())->ToString(), e->ToString());
}

}  // namespace
}  // namespace tidemark::promql
