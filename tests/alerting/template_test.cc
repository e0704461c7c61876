#include "alerting/template.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tidemark::alerting {
namespace {

std::string Expand(std::string_view text, double value = 0, Labels labels = {},
                   Labels external = {}) {
  TemplateData d{&labels, &external, "http://prom.example:9090/prefix", value};
  return ExpandAlertTemplate("Test", text, d);
}

TEST(TemplateTest, LabelsValueAndExternalLabels) {
  Labels ls{{"instance", "host:9100"}, {"job", "node"}};
  EXPECT_EQ(Expand("{{ $labels.instance }} of {{ .Labels.job }} is down", 0, ls),
            "host:9100 of node is down");
  EXPECT_EQ(Expand("{{ $labels.missing }}|", 0, ls), "|");
  EXPECT_EQ(Expand("{{ $value }} {{ .Value }}", 0.5), "0.5 0.5");
  EXPECT_EQ(Expand("{{ $value }}", 1234567), "1.234567e+06");
  EXPECT_EQ(Expand("{{ $value }}", 100), "100");
  EXPECT_EQ(Expand("{{ $externalLabels.cluster }}", 0, {}, {{"cluster", "eu1"}}), "eu1");
  EXPECT_EQ(Expand("{{ $externalURL }}"), "http://prom.example:9090/prefix");
  EXPECT_EQ(Expand("plain text"), "plain text");
}

TEST(TemplateTest, HumanizeFamilyMatchesPrometheus) {
  EXPECT_EQ(Expand("{{ $value | humanize }}", 1234567), "1.235M");
  EXPECT_EQ(Expand("{{ humanize $value }}", 0.001234), "1.234m");
  EXPECT_EQ(Expand("{{ humanize $value }}", 0), "0");
  EXPECT_EQ(Expand("{{ humanize $value }}", 12), "12");
  EXPECT_EQ(Expand("{{ humanize1024 $value }}", 1048576), "1Mi");
  EXPECT_EQ(Expand("{{ humanize1024 $value }}", 1536), "1.5ki");
  EXPECT_EQ(Expand("{{ humanizeDuration $value }}", 3600), "1h 0m 0s");
  EXPECT_EQ(Expand("{{ humanizeDuration $value }}", 90061), "1d 1h 1m 1s");
  EXPECT_EQ(Expand("{{ humanizeDuration $value }}", 0.5), "500ms");
  EXPECT_EQ(Expand("{{ humanizeDuration $value }}", 1.5), "1.5s");
  EXPECT_EQ(Expand("{{ humanizePercentage $value }}", 0.1234), "12.34%");
  EXPECT_EQ(Expand("{{ humanize \"2048\" }}"), "2.048k");
  EXPECT_EQ(Expand("{{ humanize $value }}", std::numeric_limits<double>::infinity()), "+Inf");
}

TEST(TemplateTest, PrintfAndStringFunctions) {
  EXPECT_EQ(Expand("{{ printf \"%.2f\" $value }}", 3.14159), "3.14");
  EXPECT_EQ(Expand("{{ $value | printf \"%.1f%%\" }}", 99.44), "99.4%");
  EXPECT_EQ(Expand("{{ printf \"%s=%d\" \"a\" 5 }}"), "a=5");
  EXPECT_EQ(Expand("{{ printf \"%d\" $value }}", 1.5), "%!d(float64=1.5)");
  EXPECT_EQ(Expand("{{ printf \"%5.1f|%-4s|\" 2.25 \"ab\" }}"), "  2.2|ab  |");
  EXPECT_EQ(Expand("{{ printf \"%v %g %e\" 0.000012 1e21 1500.0 }}"), "1.2e-05 1e+21 1.500000e+03");
  EXPECT_EQ(Expand("{{ \"abc\" | toUpper }} {{ toLower \"ABC\" }} {{ title \"hello world\" }}"),
            "ABC abc Hello World");
  EXPECT_EQ(Expand("{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}", 0,
                   {{"instance", "db1:9100"}}),
            "db1");
  EXPECT_EQ(
      Expand("{{ if match \"^db\" $labels.instance }}db{{ end }}", 0, {{"instance", "db1:9100"}}),
      "db");
}

TEST(TemplateTest, ConditionalsAndComparisons) {
  const char* t = "{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}";
  EXPECT_EQ(Expand(t, 11), "high");
  EXPECT_EQ(Expand(t, 6), "mid");
  EXPECT_EQ(Expand(t, 1), "low");
  Labels ls{{"severity", "critical"}};
  EXPECT_EQ(Expand("{{ if eq $labels.severity \"critical\" \"page\" }}P{{ end }}", 0, ls), "P");
  EXPECT_EQ(Expand("{{ if ne $labels.severity \"critical\" }}x{{ else }}y{{ end }}", 0, ls), "y");
  EXPECT_EQ(Expand("{{ if and (lt $value 5.0) (ge $value 1.0) }}in{{ end }}", 2), "in");
  EXPECT_EQ(Expand("{{ if not (eq $value 2.0) }}x{{ else }}two{{ end }}", 2), "two");
  EXPECT_EQ(Expand("{{ with $labels.team }}team={{ . }}{{ else }}none{{ end }}", 0, ls), "none");
  EXPECT_EQ(Expand("{{ $x := humanize $value }}[{{ $x }}]", 2000), "[2k]");
}

TEST(TemplateTest, RangeTrimAndComments) {
  Labels ls{{"b", "2"}, {"a", "1"}};
  EXPECT_EQ(Expand("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", 0, ls), "a=1;b=2;");
  EXPECT_EQ(Expand("{{ range .Labels }}{{ . }}{{ end }}", 0, ls), "12");
  EXPECT_EQ(Expand("a  {{- 1 -}}  b"), "a1b");
  EXPECT_EQ(Expand("x{{/* a comment */}}y"), "xy");
}

TEST(TemplateTest, ExecutionErrorsAreRenderedAsPrometheusDoes) {
  // Go compares float64 with an integer constant as incompatible types.
  std::string out = Expand("{{ if gt $value 10 }}high{{ end }}", 11);
  EXPECT_EQ(out.rfind("<error expanding template: error executing template __alert_Test: template: "
                      "__alert_Test:1:",
                      0),
            0u)
      << out;
  EXPECT_NE(out.find("executing \"__alert_Test\" at <gt $value 10>: error calling gt: incompatible "
                     "types for comparison>"),
            std::string::npos)
      << out;
  EXPECT_NE(
      Expand("{{ humanize \"abc\" }}").find("strconv.ParseFloat: parsing \"abc\": invalid syntax"),
      std::string::npos);
  EXPECT_NE(Expand("{{ query \"up\" }}").find("not supported"), std::string::npos);
}

TEST(TemplateTest, ParseErrorsNameFunctionAndLine) {
  Status st = CheckAlertTemplate("HighLoad", "{{ $value | nosuch }}");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "template: __alert_HighLoad:1: function \"nosuch\" not defined");
  st = CheckAlertTemplate("X", "line1\n{{ if $value }}open");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unexpected EOF"), std::string::npos) << st.message();
  st = CheckAlertTemplate("X", "{{ $nope }}");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("undefined variable \"$nope\""), std::string::npos);
  st = CheckAlertTemplate("X", "{{ end }}");
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(CheckAlertTemplate("X", "{{ $labels.a }} {{ humanize $value }}").ok());
}

// Expected strings are what `promtool test rules` (Prometheus 2.42) printed for the same
// templates, value 1234567 and labels {__name__="v", instance="db1:9100"}.
TEST(TemplateTest, MatchesPrometheus242Output) {
  Labels ls{{"__name__", "v"}, {"instance", "db1:9100"}};
  const double v = 1234567;
  EXPECT_EQ(
      Expand("{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}", v,
             ls),
      "high");
  EXPECT_EQ(Expand("{{ $value }}|{{ $value | humanize }}|{{ humanize1024 $value }}|{{ "
                   "humanizeDuration $value }}|{{ humanizePercentage $value }}",
                   v, ls),
            "1.234567e+06|1.235M|1.177Mi|14d 6h 56m 7s|1.235e+08%");
  EXPECT_EQ(
      Expand("{{ printf \"%.2f\" $value }}|{{ printf \"%d\" $value }}|{{ printf \"%5.1f|%-4s|\" "
             "2.25 \"ab\" }}|{{ printf \"%v %g %e\" 0.000012 1e21 1500.0 }}",
             v, ls),
      "1234567.00|%!d(float64=1.234567e+06)|  2.2|ab  ||1.2e-05 1e+21 1.500000e+03");
  EXPECT_EQ(
      Expand("{{ title \"hello world\" }}|{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance "
             "}}|{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
             v, ls),
      "Hello World|db1|__name__=v;instance=db1:9100;");
  EXPECT_EQ(Expand("{{ if gt $value 10 }}x{{ end }}", v, ls),
            "<error expanding template: error executing template __alert_Test: template: "
            "__alert_Test:1:118: executing \"__alert_Test\" at <gt $value 10>: error calling gt: "
            "incompatible types for comparison>");
  EXPECT_EQ(Expand("a  {{- 1 -}}  b{{/* c */}}|{{ $x := humanize $value }}[{{ $x }}]|{{ with "
                   "$labels.team }}t{{ else }}none{{ end }}",
                   v, ls),
            "a1b|[1.235M]|none");
}

TEST(TemplateTest, FormatGoGMatchesGoPercentG) {
  EXPECT_EQ(FormatGoG(1234.5, 4), "1234");
  EXPECT_EQ(FormatGoG(12345, 4), "1.234e+04");
  EXPECT_EQ(FormatGoG(100, 4), "100");
  EXPECT_EQ(FormatGoG(0.00001234, 4), "1.234e-05");
  EXPECT_EQ(FormatGoG(std::nan(""), 4), "NaN");
  EXPECT_EQ(FormatGoG(-std::numeric_limits<double>::infinity(), 4), "-Inf");
}

}  // namespace
}  // namespace tidemark::alerting
