#include "agent/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace tidemark::agent {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void AppendHelp(std::string_view help, bool openmetrics, std::string* out) {
  for (char c : help) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '"' && openmetrics) {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

// OpenMetrics wants canonical floats in `le`: "1.0", not "1".
void AppendCanonicalLe(std::string_view v, std::string* out) {
  out->append(v);
  if (v.find_first_of(".eEIN") == std::string_view::npos) out->append(".0");
}

void AppendSample(std::string_view name, const Sample& s, bool om, std::string* out) {
  out->append(name);
  out->append(SeriesPartSuffix(s.part));
  bool has_base = s.base != nullptr && !s.base->rendered().empty();
  if (has_base || !s.extra.empty()) {
    *out += '{';
    bool first = true;
    if (has_base) {
      out->append(s.base->rendered());
      first = false;
    }
    for (const Label& l : s.extra) {
      if (l.value.empty()) continue;
      if (!first) *out += ',';
      first = false;
      out->append(l.name);
      out->append("=\"");
      if (om && s.part == SeriesPart::kBucket && l.name == "le") {
        AppendCanonicalLe(l.value, out);
      } else {
        AppendEscapedLabelValue(l.value, out);
      }
      *out += '"';
    }
    *out += '}';
  }
  *out += ' ';
  AppendDouble(s.value, out);
  *out += '\n';
}

}  // namespace

void AppendDouble(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, p);
}

ExpositionFormat NegotiateFormat(std::string_view accept) {
  double om_q = -1;
  double text_q = -1;
  while (!accept.empty()) {
    size_t comma = accept.find(',');
    std::string_view item = Trim(accept.substr(0, comma));
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    size_t semi = item.find(';');
    std::string_view type = Trim(item.substr(0, semi));
    double q = 1.0;
    std::string_view version;
    std::string_view params = semi == std::string_view::npos ? "" : item.substr(semi + 1);
    while (!params.empty()) {
      size_t s2 = params.find(';');
      std::string_view kv = Trim(params.substr(0, s2));
      params = s2 == std::string_view::npos ? std::string_view() : params.substr(s2 + 1);
      if (kv.starts_with("q=")) {
        q = std::strtod(std::string(kv.substr(2)).c_str(), nullptr);
      } else if (kv.starts_with("version=")) {
        version = kv.substr(8);
      }
    }
    if (type == "application/openmetrics-text") {
      if (version.empty() || version == "1.0.0" || version == "0.0.1") om_q = std::max(om_q, q);
    } else if (type == "text/plain" || type == "*/*" || type == "text/*") {
      text_q = std::max(text_q, q);
    }
  }
  return (om_q > 0 && om_q >= text_q) ? ExpositionFormat::kOpenMetrics100
                                      : ExpositionFormat::kText004;
}

void RenderExposition(std::span<const SampleBatch* const> batches, ExpositionFormat format,
                      std::string* out) {
  const bool om = format == ExpositionFormat::kOpenMetrics100;
  for (const SampleBatch* batch : batches) {
    for (const MetricFamily& f : batch->families()) {
      if (f.samples.empty()) continue;
      std::string_view type = MetricTypeName(f.type);
      std::string_view family_name = f.name;
      if (om) {
        // OpenMetrics names a counter family without its _total suffix; counters whose exposed
        // name lacks _total (cAdvisor's container_memory_failcnt) keep their name as "unknown".
        if (f.type == MetricType::kCounter) {
          if (family_name.ends_with("_total")) {
            family_name.remove_suffix(6);
          } else {
            type = "unknown";
          }
        } else if (f.type == MetricType::kUntyped) {
          type = "unknown";
        }
      }
      out->append("# HELP ");
      out->append(family_name);
      *out += ' ';
      AppendHelp(f.help, om, out);
      out->append("\n# TYPE ");
      out->append(family_name);
      *out += ' ';
      out->append(type);
      *out += '\n';
      for (const Sample& s : f.samples) AppendSample(f.name, s, om, out);
    }
  }
}

void FinishExposition(ExpositionFormat format, std::string* out) {
  if (format == ExpositionFormat::kOpenMetrics100) out->append("# EOF\n");
}

}  // namespace tidemark::agent
