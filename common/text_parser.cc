#include "common/text_parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "common/go_format.h"
#include "common/strings.h"

namespace tidemark {

namespace {

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

class LineParser {
 public:
  LineParser(std::string_view line, TextFormat format) : s_(line), format_(format) {}

  Status Sample(ParsedSample* out) {
    out->labels.clear();
    out->timestamp_ms.reset();
    std::string_view name = Name();
    if (name.empty()) return Err("expected a metric name");
    out->labels.push_back(Label{"__name__", std::string(name)});
    if (Peek() == '{') {
      ++i_;
      TIDEMARK_RETURN_IF_ERROR(LabelSet(&out->labels));
    }
    if (!SkipSpaces()) return Err("expected a value after the metric name");
    std::string_view v = Token();
    auto value = ParseExpositionFloat(v);
    if (!value) return Err("invalid value \"" + std::string(v) + "\"");
    out->value = *value;
    SkipSpacesOpt();
    if (i_ < s_.size() && s_[i_] != '#') {
      std::string_view ts = Token();
      if (format_ == TextFormat::kText004) {
        int64_t t = 0;
        auto [p, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
        if (ec != std::errc() || p != ts.data() + ts.size()) {
          return Err("invalid timestamp \"" + std::string(ts) +
                     "\" (text format wants integer ms)");
        }
        out->timestamp_ms = t;
      } else {
        auto secs = ParseExpositionFloat(ts);
        if (!secs || !std::isfinite(*secs))
          return Err("invalid timestamp \"" + std::string(ts) + "\"");
        out->timestamp_ms = static_cast<int64_t>(std::llround(*secs * 1000.0));
      }
      SkipSpacesOpt();
    }
    if (i_ < s_.size() && s_[i_] != '#') return Err("unexpected text after the sample");
    // OpenMetrics exemplars (" # {...} v") are accepted and ignored.
    auto& l = out->labels;
    SortLabels(&l);
    for (size_t k = 1; k < l.size(); ++k) {
      if (l[k].name == l[k - 1].name) return Err("label name \"" + l[k].name + "\" is not unique");
    }
    l.erase(std::remove_if(l.begin(), l.end(), [](const Label& x) { return x.value.empty(); }),
            l.end());
    return Status::Ok();
  }

  Status Err(const std::string& why) const {
    return Status::InvalidArgument(why + " at column " + std::to_string(i_ + 1));
  }

 private:
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  std::string_view Name() {
    size_t b = i_;
    if (i_ < s_.size() && IsNameStart(s_[i_])) {
      ++i_;
      while (i_ < s_.size() && IsNameChar(s_[i_])) ++i_;
    }
    return s_.substr(b, i_ - b);
  }
  bool SkipSpaces() {
    size_t b = i_;
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
    return i_ > b;
  }
  void SkipSpacesOpt() { SkipSpaces(); }
  std::string_view Token() {
    size_t b = i_;
    while (i_ < s_.size() && s_[i_] != ' ' && s_[i_] != '\t') ++i_;
    return s_.substr(b, i_ - b);
  }
  Status LabelSet(Labels* out) {
    for (;;) {
      SkipSpacesOpt();
      if (Peek() == '}') {
        ++i_;
        return Status::Ok();
      }
      std::string_view name = Name();
      if (name.empty() || name.find(':') != std::string_view::npos)
        return Err("invalid label name");
      SkipSpacesOpt();
      if (Peek() != '=') return Err("expected '=' after label name \"" + std::string(name) + "\"");
      ++i_;
      SkipSpacesOpt();
      if (Peek() != '"')
        return Err("expected '\"' to start the value of \"" + std::string(name) + "\"");
      ++i_;
      std::string value;
      for (;;) {
        if (i_ >= s_.size()) return Err("unterminated label value");
        char c = s_[i_++];
        if (c == '"') break;
        if (c == '\\') {
          if (i_ >= s_.size()) return Err("unterminated escape");
          char e = s_[i_++];
          if (e == 'n') {
            value += '\n';
          } else if (e == '\\' || e == '"') {
            value += e;
          } else {
            // Prometheus' scraper keeps unknown escapes literally.
            value += '\\';
            value += e;
          }
        } else {
          value += c;
        }
      }
      out->push_back(Label{std::string(name), std::move(value)});
      SkipSpacesOpt();
      if (Peek() == ',') {
        ++i_;
        continue;
      }
      if (Peek() == '}') {
        ++i_;
        return Status::Ok();
      }
      return Err("expected ',' or '}' in the label set");
    }
  }

  std::string_view s_;
  TextFormat format_;
  size_t i_ = 0;
};

std::optional<MetricType> TypeFromName(std::string_view t) {
  if (t == "counter") return MetricType::kCounter;
  if (t == "gauge") return MetricType::kGauge;
  if (t == "histogram" || t == "gaugehistogram") return MetricType::kHistogram;
  if (t == "untyped" || t == "unknown" || t == "summary" || t == "info" || t == "stateset") {
    return MetricType::kUntyped;
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> ParseExpositionFloat(std::string_view s) {
  // Prometheus' text parsers keep to pre-Go-1.13 float syntax: no hex floats, no '_' separators.
  if (s.find_first_of("pP_") != std::string_view::npos) return std::nullopt;
  std::string_view body = s;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body.remove_prefix(1);
  // Deliberately lenient where Go is not: a signed NaN ("-NaN") is a NaN.
  if (EqualsIgnoreCase(body, "nan")) return std::numeric_limits<double>::quiet_NaN();
  double v = 0;
  if (!ParseGoFloat(s, &v)) return std::nullopt;
  // Stricter than Go, which rounds an underflow to zero silently: such a sample is rejected.
  const std::string_view mantissa = body.substr(0, body.find_first_of("eE"));
  if (v == 0 && mantissa.find_first_of("123456789") != std::string_view::npos) return std::nullopt;
  return v;
}

Status ParseExposition(std::string_view text, TextFormat format,
                       const std::function<Status(ParsedSample&)>& on_sample,
                       const std::function<void(std::string_view, MetricType)>& on_type) {
  size_t line_no = 0;
  ParsedSample sample;
  bool saw_eof = false;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    auto at = [&](const Status& s) {
      return Status::InvalidArgument("line " + std::to_string(line_no) + ": " + s.message());
    };
    if (!line.empty() && line.back() == '\r') {
      return at(Status::InvalidArgument("carriage return (CRLF line endings are not accepted)"));
    }
    if (line.empty()) {
      if (format == TextFormat::kOpenMetrics) return at(Status::InvalidArgument("blank line"));
      continue;
    }
    if (line[0] == '#') {
      std::string_view rest = line.substr(1);
      while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
      if (rest == "EOF") {
        saw_eof = true;
        break;
      }
      if (rest.starts_with("TYPE ")) {
        rest.remove_prefix(5);
        size_t sp = rest.find(' ');
        if (sp == std::string_view::npos) return at(Status::InvalidArgument("TYPE without a type"));
        std::string_view name = rest.substr(0, sp);
        std::string_view type = rest.substr(sp + 1);
        while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
        auto t = TypeFromName(type);
        if (!t)
          return at(Status::InvalidArgument("invalid metric type \"" + std::string(type) + "\""));
        if (on_type) on_type(name, *t);
      }
      continue;  // HELP, UNIT and other comments.
    }
    LineParser p(line, format);
    Status st = p.Sample(&sample);
    if (!st.ok()) return at(st);
    Status cb = on_sample(sample);
    if (!cb.ok()) return cb;
  }
  if (format == TextFormat::kOpenMetrics && !saw_eof) {
    return Status::InvalidArgument("OpenMetrics input does not end with # EOF");
  }
  return Status::Ok();
}

}  // namespace tidemark
