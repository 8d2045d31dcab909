#include "template/template.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vigil::tmpl {
namespace {

std::string Expand(std::string_view text, AlertData data = {}) {
  Result<Template> t = Template::ParseAlert(text);
  if (!t.ok()) return "PARSE: " + t.status().message();
  Result<std::string> out = t->ExecuteAlert(data);
  if (!out.ok()) return "EXEC: " + out.status().message();
  return *out;
}

AlertData Data() {
  AlertData d;
  d.labels = Labels{{"instance", "host:9100"}, {"job", "node"}, {"severity", "critical"}};
  d.value = 0.5;
  d.external_labels = Labels{{"network", "testnet"}};
  d.external_url = "http://vigil:9810";
  return d;
}

TEST(GoFormatTest, FloatLikeGo) {
  EXPECT_EQ(GoFormatFloat(0.5), "0.5");
  EXPECT_EQ(GoFormatFloat(1), "1");
  EXPECT_EQ(GoFormatFloat(0), "0");
  EXPECT_EQ(GoFormatFloat(-0.0), "-0");
  EXPECT_EQ(GoFormatFloat(123456), "123456");
  EXPECT_EQ(GoFormatFloat(1e6), "1e+06");
  EXPECT_EQ(GoFormatFloat(1234567), "1.234567e+06");
  EXPECT_EQ(GoFormatFloat(0.0001), "0.0001");
  EXPECT_EQ(GoFormatFloat(0.00001), "1e-05");
  EXPECT_EQ(GoFormatFloat(1.5e-7), "1.5e-07");
  EXPECT_EQ(GoFormatFloat(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(GoFormatFloat(-42.25), "-42.25");
  EXPECT_EQ(GoFormatFloat(1e100), "1e+100");
  EXPECT_EQ(GoFormatFloat(INFINITY), "+Inf");
  EXPECT_EQ(GoFormatFloat(-INFINITY), "-Inf");
  EXPECT_EQ(GoFormatFloat(NAN), "NaN");
}

TEST(GoFormatTest, Humanize) {
  EXPECT_EQ(Humanize(1234567), "1.235M");
  EXPECT_EQ(Humanize(0), "0");
  EXPECT_EQ(Humanize(1), "1");
  EXPECT_EQ(Humanize(999), "999");
  EXPECT_EQ(Humanize(1000), "1k");
  EXPECT_EQ(Humanize(12345), "12.35k");
  EXPECT_EQ(Humanize(0.001234), "1.234m");
  EXPECT_EQ(Humanize(-1500), "-1.5k");
  EXPECT_EQ(Humanize(1e30), "1e+06Y");
  EXPECT_EQ(Humanize(NAN), "NaN");
  EXPECT_EQ(Humanize(INFINITY), "+Inf");
  EXPECT_EQ(Humanize1024(1024), "1ki");
  EXPECT_EQ(Humanize1024(1048576), "1Mi");
  EXPECT_EQ(Humanize1024(1), "1");
  EXPECT_EQ(Humanize1024(1536), "1.5ki");
  EXPECT_EQ(HumanizeDuration(0), "0s");
  EXPECT_EQ(HumanizeDuration(1), "1s");
  EXPECT_EQ(HumanizeDuration(1.5), "1.5s");
  EXPECT_EQ(HumanizeDuration(60), "1m 0s");
  EXPECT_EQ(HumanizeDuration(3661), "1h 1m 1s");
  EXPECT_EQ(HumanizeDuration(90061), "1d 1h 1m 1s");
  EXPECT_EQ(HumanizeDuration(-61), "-1m 1s");
  EXPECT_EQ(HumanizeDuration(0.25), "250ms");
  EXPECT_EQ(HumanizeDuration(0.000001), "1us");
  EXPECT_EQ(HumanizePercentage(0.1234), "12.34%");
  EXPECT_EQ(HumanizePercentage(1), "100%");
  EXPECT_EQ(HumanizeTimestamp(1), "1970-01-01 00:00:01 +0000 UTC");
  EXPECT_EQ(HumanizeTimestamp(1435065584.128), "2015-06-23 13:19:44.128 +0000 UTC");
}

TEST(TemplateTest, VariablesAndFields) {
  AlertData d = Data();
  EXPECT_EQ(Expand("{{ $labels.instance }} is down", d), "host:9100 is down");
  EXPECT_EQ(Expand("{{ .Labels.job }}/{{ .Value }}", d), "node/0.5");
  EXPECT_EQ(Expand("{{ $value }}", d), "0.5");
  EXPECT_EQ(Expand("{{ $externalLabels.network }} {{ $externalURL }}", d), "testnet http://vigil:9810");
  EXPECT_EQ(Expand("[{{ $labels.missing }}]", d), "[]");
  EXPECT_EQ(Expand("no actions", d), "no actions");
  EXPECT_EQ(Expand("{{ $x := 3 }}{{ $x }}", d), "3");
  EXPECT_EQ(Expand("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", d), "2");
  EXPECT_EQ(Expand("{{ \"a\\tb\" }}{{ `raw\\n` }}", d), "a\tbraw\\n");
  EXPECT_EQ(Expand("{{ 1.50 }} {{ 1e3 }} {{ 7 }} {{ true }}", d), "1.5 1000 7 true");
  EXPECT_EQ(Expand("{{/* comment */}}x", d), "x");
}

TEST(TemplateTest, Pipelines) {
  AlertData d = Data();
  d.value = 1234567;
  EXPECT_EQ(Expand("{{ $value | humanize }}", d), "1.235M");
  EXPECT_EQ(Expand("{{ humanize $value }}", d), "1.235M");
  EXPECT_EQ(Expand("{{ $value | humanize1024 }}", d), "1.177Mi");
  EXPECT_EQ(Expand("{{ $labels.severity | toUpper }}", d), "CRITICAL");
  EXPECT_EQ(Expand("{{ \"AbC\" | toLower }}", d), "abc");
  EXPECT_EQ(Expand("{{ \"hello world-x\" | title }}", d), "Hello World-X");
  EXPECT_EQ(Expand("{{ (humanize $value) | printf \"%s!\" }}", d), "1.235M!");
  EXPECT_EQ(Expand("{{ 3600 | humanizeDuration }}", d), "1h 0m 0s");
  EXPECT_EQ(Expand("{{ \"0.25\" | humanizePercentage }}", d), "25%");
  EXPECT_EQ(Expand("{{ 0 | humanizeTimestamp }}", d), "1970-01-01 00:00:00 +0000 UTC");
}

TEST(TemplateTest, Printf) {
  AlertData d = Data();
  d.value = 2.0 / 3;
  EXPECT_EQ(Expand("{{ printf \"%.2f\" $value }}", d), "0.67");
  EXPECT_EQ(Expand("{{ printf \"%f\" $value }}", d), "0.666667");
  EXPECT_EQ(Expand("{{ printf \"%v|%g\" $value $value }}", d), "0.6666666666666666|0.6666666666666666");
  EXPECT_EQ(Expand("{{ printf \"%s=%d\" \"n\" 42 }}", d), "n=42");
  EXPECT_EQ(Expand("{{ printf \"%5.1f%%\" 12.345 }}", d), " 12.3%");
  EXPECT_EQ(Expand("{{ printf \"%d\" 1.5 }}", d), "%!d(float64=1.5)");
  EXPECT_EQ(Expand("{{ printf \"%s %s\" \"a\" }}", d), "a %!s(MISSING)");
  EXPECT_EQ(Expand("{{ printf \"%s\" \"a\" 1 }}", d), "a%!(EXTRA int=1)");
  EXPECT_EQ(Expand("{{ printf \"%q\" \"a\\\"b\" }}", d), "\"a\\\"b\"");
  EXPECT_EQ(Expand("{{ printf \"%.3g\" 1234.5 }}", d), "1.23e+03");
  EXPECT_EQ(Expand("{{ printf \"%x|%X|%5x\" \"hi\" 255 \"a\" }}", d), "6869|FF|   61");
  // Huge widths and precisions are capped rather than trusted.
  EXPECT_EQ(Expand("{{ printf \"%.99999999999999999999f\" 1.0 }}", d).size(), 1002u);
  EXPECT_EQ(Expand("{{ printf \"%99999999999d\" 1 }}", d).size(), 1000u);
}

TEST(TemplateTest, Conditionals) {
  AlertData d = Data();
  d.value = 95;
  const char* t = "{{ if gt $value 90.0 }}high{{ else if gt $value 50.0 }}mid{{ else }}low{{ end }}";
  EXPECT_EQ(Expand(t, d), "high");
  d.value = 60;
  EXPECT_EQ(Expand(t, d), "mid");
  d.value = 1;
  EXPECT_EQ(Expand(t, d), "low");
  EXPECT_EQ(Expand("{{ if eq $labels.job \"node\" \"x\" }}y{{ end }}", d), "y");
  EXPECT_EQ(Expand("{{ if ne $labels.job \"node\" }}y{{ else }}n{{ end }}", d), "n");
  EXPECT_EQ(Expand("{{ if and (lt 1 2) (le 2 2) (ge 3 3) }}ok{{ end }}", d), "ok");
  EXPECT_EQ(Expand("{{ if or false \"\" 0 }}t{{ else }}f{{ end }}", d), "f");
  EXPECT_EQ(Expand("{{ if not $labels.missing }}absent{{ end }}", d), "absent");
  EXPECT_EQ(Expand("{{ or $labels.missing \"default\" }}", d), "default");
  EXPECT_EQ(Expand("{{ with $labels.job }}job={{ . }}{{ end }}", d), "job=node");
  EXPECT_EQ(Expand("{{ with $labels.nope }}x{{ else }}none{{ end }}", d), "none");
  // Go refuses to compare a float with an int constant.
  EXPECT_EQ(Expand("{{ if gt $value 90 }}x{{ end }}", d).rfind("EXEC: ", 0), 0u);
  EXPECT_NE(Expand("{{ if gt $value 90 }}x{{ end }}", d).find("incompatible types for comparison"), std::string::npos);
}

TEST(TemplateTest, Range) {
  AlertData d = Data();
  EXPECT_EQ(Expand("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", d),
            "instance=host:9100;job=node;severity=critical;");
  EXPECT_EQ(Expand("{{ range $labels }}{{ . }},{{ end }}", d), "host:9100,node,critical,");
  EXPECT_EQ(Expand("{{ range .Labels }}[{{ . }}]{{ end }}", d), "[host:9100][node][critical]");
  EXPECT_EQ(Expand("{{ range $v := $externalLabels }}{{ $v }}{{ end }}", d), "testnet");
  d.external_labels = {};
  EXPECT_EQ(Expand("{{ range $externalLabels }}x{{ else }}empty{{ end }}", d), "empty");
  EXPECT_EQ(Expand("{{ len $labels }}", d), "3");
  EXPECT_EQ(Expand("{{ index $labels \"job\" }}", d), "node");
}

TEST(TemplateTest, Trimming) {
  AlertData d = Data();
  EXPECT_EQ(Expand("a  {{- $labels.job -}}  \n b", d), "anodeb");
  EXPECT_EQ(Expand("{{ range $k, $v := $labels -}}\n  {{ $k }}\n{{- end }}", d), "instancejobseverity");
  EXPECT_EQ(Expand("x {{- /* c */ -}} y", d), "xy");
  EXPECT_EQ(Expand("{{-3}}", d), "-3");
}

TEST(TemplateTest, PrometheusFunctions) {
  AlertData d = Data();
  EXPECT_EQ(Expand("{{ $labels.instance | stripPort }}", d), "host");
  EXPECT_EQ(Expand("{{ \"a.b.example:80\" | stripDomain }}", d), "a:80");
  EXPECT_EQ(Expand("{{ if match \"^host\" $labels.instance }}m{{ end }}", d), "m");
  EXPECT_EQ(Expand("{{ reReplaceAll \"(.*):(.*)\" \"$2@$1\" $labels.instance }}", d), "9100@host");
  EXPECT_EQ(Expand("{{ parseDuration \"1m30s\" }}", d), "90");
  EXPECT_EQ(Expand("{{ print 1 2 \"a\" \"b\" }}", d), "1 2ab");
}

TEST(TemplateTest, ParseErrors) {
  auto err = [](std::string_view text) {
    Result<Template> t = Template::ParseAlert(text);
    return t.ok() ? std::string("ok") : t.status().message();
  };
  EXPECT_EQ(err("{{ $labels.x }}"), "ok");
  EXPECT_EQ(err("a\n  {{ nosuch 1 }}"), "2:6: function \"nosuch\" not defined");
  EXPECT_EQ(err("{{ $nope }}"), "1:4: undefined variable \"$nope\"");
  EXPECT_EQ(err("{{ if true }}x"), "1:1: unexpected EOF: {{if}} without {{end}}");
  EXPECT_EQ(err("{{ end }}"), "1:1: unexpected {{end}}");
  EXPECT_EQ(err("{{ $labels.x"), "1:1: unclosed action");
  EXPECT_EQ(err("{{ \"abc }}"), "1:4: unterminated quoted string");
  EXPECT_EQ(err("{{ }}"), "1:4: missing value for command");
  EXPECT_EQ(err("{{ block \"x\" . }}{{ end }}"), "1:4: {{block}} is not supported");
  EXPECT_EQ(err("{{ (1 }}"), "1:4: unclosed left paren");
  EXPECT_EQ(err("{{ 1 | 2 }}"), "1:8: non executable command in pipeline stage 2");
  // Variables are scoped to their block.
  EXPECT_EQ(err("{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}"), "1:39: undefined variable \"$x\"");
}

TEST(TemplateTest, ExecErrorsBecomeText) {
  AlertData d = Data();
  EXPECT_EQ(ExpandAlert("{{ humanize \"abc\" }}", d),
            "<error expanding template: 1:4: error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid "
            "syntax>");
  EXPECT_EQ(ExpandAlert("{{ .Nope }}", d), "<error expanding template: 1:4: can't evaluate field Nope in type struct>");
  EXPECT_EQ(ExpandAlert("{{ humanizeTimestamp 1e21 }}", d),
            "<error expanding template: 1:4: error calling humanizeTimestamp: 1e+21 cannot be represented as a "
            "nanoseconds timestamp since it overflows int64>");
  EXPECT_EQ(ExpandAlert("{{ range $ }}x{{ end }}", d),
            "<error expanding template: 1:10: range can't iterate over {map[network:testnet] http://vigil:9810 "
            "map[instance:host:9100 job:node severity:critical] 0.5}>");
  EXPECT_EQ(ExpandAlert("{{ nosuch }}", d), "<error expanding template: 1:4: function \"nosuch\" not defined>");
  EXPECT_EQ(ExpandAlert("{{ 1 2 }}", d), "<error expanding template: 1:4: can't give argument to non-function 1>");
}

TEST(TemplateTest, QueryFunctions) {
  AlertData d = Data();
  std::vector<std::string> asked;
  d.query = [&asked](const std::string& q) -> Result<std::vector<QueryResultSample>> {
    asked.push_back(q);
    if (q == "broken(") return Status::Error("parse error: unclosed left parenthesis");
    if (q.rfind("none", 0) == 0) return std::vector<QueryResultSample>{};
    return std::vector<QueryResultSample>{{Labels{{"baseline", "rpc"}, {"service", "bitcoind"}}, 0.25},
                                          {Labels{{"baseline", "rpc"}, {"service", "titan"}}, 4}};
  };
  // The selector of the alert's own series, built from $labels as the default baseline rules do.
  EXPECT_EQ(ExpandAlert("{{ $s := \"\" }}{{ range $k, $v := $labels }}{{ $s = printf \"%s%s=%q,\" $s $k $v }}{{ end }}"
                        "{{ with query (printf \"up{%s}\" $s) }}{{ . | first | value | humanize }} "
                        "{{ . | first | label \"service\" }}{{ end }}",
                        d),
            "250m bitcoind");
  EXPECT_EQ(asked.back(), "up{instance=\"host:9100\",job=\"node\",severity=\"critical\",}");
  EXPECT_EQ(ExpandAlert("{{ with query \"none\" }}{{ . | first | value }}{{ else }}no band{{ end }}", d), "no band");
  EXPECT_EQ(ExpandAlert("{{ query \"none\" | first }}", d),
            "<error expanding template: 1:19: error calling first: first() called on vector with no elements>");
  EXPECT_EQ(ExpandAlert("{{ query \"broken(\" }}", d),
            "<error expanding template: 1:4: error calling query: error executing query: parse error: unclosed left "
            "parenthesis>");
  // Without a query function (Alertmanager's templates) it says so.
  d.query = nullptr;
  EXPECT_EQ(ExpandAlert("{{ query \"up\" }}", d),
            "<error expanding template: 1:4: error calling query: query is only available in alerting and recording "
            "rule templates>");
}

// Alertmanager's notification templates: a list with fields (`.Alerts.Firing`)
// and its join/trimSpace functions.
TEST(TemplateTest, ListFieldsJoinAndTrimSpace) {
  Value alerts = Value::List({Value::String("a"), Value::String("b")}, {{"Firing", Value::List({Value::String("a")})}});
  Value dot = Value::Struct({{"Alerts", alerts}});
  auto run = [&](const char* text) {
    Result<Template> t = Template::Parse(text);
    if (!t.ok()) return "PARSE: " + t.status().message();
    Result<std::string> out = t->Execute(dot, {});
    return out.ok() ? *out : "EXEC: " + out.status().message();
  };
  EXPECT_EQ(run("{{ range .Alerts }}{{ . }}{{ end }} {{ len .Alerts }} {{ .Alerts.Firing | join \"+\" }}"), "ab 2 a");
  EXPECT_EQ(run("{{ .Alerts | join \", \" }}|{{ trimSpace \"  x y \\n\" }}|"), "a, b|x y|");
  EXPECT_EQ(run("{{ .Alerts.Resolved }}"), "EXEC: 1:4: can't evaluate field Resolved in type []interface {}");
  EXPECT_EQ(run("{{ join \",\" \"ab\" }}"), "EXEC: 1:4: error calling join: expected a list, got string");
}

// Alertmanager's template files: {{define}} at the top level, {{template}}
// calls with or without a pipeline, names from another template by Use().
TEST(TemplateTest, DefineAndTemplate) {
  Value dot = Value::Struct({{"Host", Value::String("node1")}, {"N", Value::Int(2)}});
  auto run = [&](const char* text, const Template* library = nullptr) {
    Result<Template> t = Template::Parse(text);
    if (!t.ok()) return "PARSE: " + t.status().message();
    if (library) t->Use(*library);
    Result<std::string> out = t->Execute(dot, {});
    return out.ok() ? *out : "EXEC: " + out.status().message();
  };
  EXPECT_EQ(run("{{ define \"h\" }}on {{ .Host }}{{ end }}down {{ template \"h\" . }}"), "down on node1");
  EXPECT_EQ(run("{{ define \"n\" }}[{{ . }}|{{ $ }}]{{ end }}{{ template \"n\" .N }}{{ template \"n\" }}"),
            "[2|2][<no value>|<no value>]");
  // A defined template does not see the caller's variables (as Go: a parse error).
  EXPECT_EQ(run("{{ $x := 1 }}{{ define \"v\" }}{{ $x }}{{ end }}"), "PARSE: 1:33: undefined variable \"$x\"");
  EXPECT_EQ(run("{{ if true }}{{ define \"d\" }}{{ end }}{{ end }}"),
            "PARSE: 1:17: {{define}} must be at the top level");
  EXPECT_EQ(run("{{ define x }}{{ end }}"), "PARSE: 1:11: {{define}} needs a quoted name");
  EXPECT_EQ(run("{{ define \"d\" }}x"), "PARSE: 1:1: unexpected EOF: {{define}} without {{end}}");
  EXPECT_EQ(run("{{ template \"nope\" . }}"), "EXEC: 1:4: no such template \"nope\"");
  EXPECT_EQ(run("{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}"),
            "EXEC: 1:20: exceeded maximum template depth (100)");

  Result<Template> library =
      Template::Parse("{{ define \"a\" }}lib-a{{ end }}{{ define \"b\" }}lib-b {{ template \"a\" }}{{ end }}");
  ASSERT_TRUE(library.ok()) << library.status().message();
  EXPECT_EQ(library->DefinedNames(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(run("{{ template \"b\" . }}", &*library), "lib-b lib-a");
  // The template's own definition wins over the library's, also for the library's own calls.
  EXPECT_EQ(run("{{ define \"a\" }}own-a{{ end }}{{ template \"b\" . }}", &*library), "lib-b own-a");
  Result<Template> t = Template::Parse("{{ template \"b\" . }}{{ if .N }}{{ template \"c\" }}{{ end }}");
  ASSERT_TRUE(t.ok());
  t->Use(*library);
  EXPECT_EQ(t->CalledNames(), (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace
}  // namespace vigil::tmpl
