// libFuzzer target for the PromQL parser. Properties checked on every input:
// - ParseExpr never crashes, leaks or trips a sanitizer, whatever the bytes;
// - an error is "<line>:<col>: parse error: <message>" with a position inside the input;
// - a parsed expression prints (ToString) to text that parses again and prints identically, with
//   the same static type.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tsdb/promql/parser.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view input, const std::string& detail) {
  std::fprintf(stderr, "promql_parser_fuzz: %s\n  input:  %.*s\n  detail: %s\n", what,
               static_cast<int>(input.size()), input.data(), detail.c_str());
  std::abort();
}

// Checks "<line>:<col>: parse error: " with line:col inside (or one past the end of) the input.
void CheckErrorFormat(std::string_view input, const std::string& msg) {
  size_t i = 0;
  auto number = [&](long* out) {
    size_t start = i;
    long v = 0;
    while (i < msg.size() && msg[i] >= '0' && msg[i] <= '9' && i - start < 10) {
      v = v * 10 + (msg[i] - '0');
      ++i;
    }
    *out = v;
    return i > start;
  };
  long line = 0;
  long col = 0;
  if (!number(&line) || i >= msg.size() || msg[i++] != ':' || !number(&col) ||
      msg.compare(i, 15, ": parse error: ") != 0 || msg.size() == i + 15) {
    Fail("malformed error message", input, msg);
  }
  long lines = 1;
  long last_line_len = 0;
  for (char c : input) {
    if (c == '\n') {
      ++lines;
      last_line_len = 0;
    } else {
      ++last_line_len;
    }
  }
  if (line < 1 || line > lines || col < 1 || (line == lines && col > last_line_len + 1)) {
    Fail("error position outside the input", input, msg);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto first = tidemark::promql::ParseExpr(input);
  if (!first.ok()) {
    CheckErrorFormat(input, first.status().message());
    return 0;
  }
  const std::string printed = (*first)->ToString();
  auto second = tidemark::promql::ParseExpr(printed);
  if (!second.ok())
    Fail("printed expression does not parse", input,
         printed + "\n  error:  " + second.status().message());
  const std::string reprinted = (*second)->ToString();
  if (reprinted != printed)
    Fail("printing is not a fixed point", input, printed + " vs " + reprinted);
  if ((*first)->Type() != (*second)->Type()) Fail("type changed after printing", input, printed);
  return 0;
}
