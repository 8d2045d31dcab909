// The part of Go's text/template that Prometheus alert templates use, with
// Prometheus's template functions (humanize, humanizeDuration, …) and Go's
// output formatting, so `{{ $labels.instance }} at {{ $value | humanize }}`
// expands exactly as Prometheus would expand it.
//
// Supported: text and {{ actions }} with {{- -}} trimming and {{/* comments */}};
// pipelines with `|`; `.`, `.Field.x`, `$var.x`, `$`, literals (strings, raw
// strings, numbers, true/false/nil), parenthesised pipelines; `$x := …` and
// `$x = …`; if / else if / else / end, range (with `$k, $v :=`, else), with;
// define (top level) and template (Alertmanager's template files); the
// functions listed by FunctionNames(). Not supported (a parse error):
// block and break/continue. Prometheus's `query` (with first, value, label)
// works where the caller gives AlertData a query function (rule templates).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "base/status.h"

namespace vigil::tmpl {

// A template value: what Go would hold in an interface{} here.
struct Value {
  enum class Kind { kNil, kBool, kInt, kFloat, kString, kMap, kStruct, kList };
  Kind kind = Kind::kNil;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  // kMap (map[string]string-like: a missing key reads as "") and kStruct
  // (a missing field is an error).
  std::shared_ptr<const std::map<std::string, Value>> fields;
  std::shared_ptr<const std::vector<Value>> list;  // kList
  // A kList may also have fields, as a Go slice type with methods does
  // (Alertmanager's `.Alerts.Firing`); `fields` is null when it has none.

  static Value Nil() { return {}; }
  static Value Bool(bool v);
  static Value Int(int64_t v);
  static Value Float(double v);
  static Value String(std::string v);
  static Value Map(std::map<std::string, Value> m);
  static Value Struct(std::map<std::string, Value> m);
  static Value List(std::vector<Value> l);
  static Value List(std::vector<Value> l, std::map<std::string, Value> fields);
  static Value FromLabels(const Labels& labels);  // map[string]string
};

// What an alerting or recording rule's templates see: `.Labels`/`$labels`,
// `.Value`/`$value`, `.ExternalLabels`/`$externalLabels`, `.ExternalURL`/`$externalURL`.
struct QueryResultSample {
  Labels labels;
  double value = 0;
};
// Evaluates a PromQL instant query at the rule's evaluation time.
using QueryFunction = std::function<Result<std::vector<QueryResultSample>>(const std::string& promql)>;

struct AlertData {
  Labels labels;
  double value = 0;
  Labels external_labels;
  std::string external_url;
  QueryFunction query;  // empty: `query` fails ("not available here")
};
Value MakeAlertData(const AlertData& data);

struct Node;
using Definitions = std::map<std::string, std::shared_ptr<const Node>>;

class Template {
 public:
  // Parses `text`. Errors read "LINE:COL: reason" (1-based, in `text`).
  // Variables named in `predefined` (e.g. "$labels") may be used without a
  // declaration; Prometheus's alert templates predefine $labels, $value,
  // $externalLabels and $externalURL (see kAlertVariables).
  static Result<Template> Parse(std::string_view text, const std::vector<std::string>& predefined = {});
  // Parses with the alert variables predefined.
  static Result<Template> ParseAlert(std::string_view text);

  // Runs the template with `dot` as `.` and `$`, and the given variables.
  Result<std::string> Execute(const Value& dot, const std::map<std::string, Value>& variables) const;
  // Runs an alert template: `.` is MakeAlertData(data), the alert variables are set.
  Result<std::string> ExecuteAlert(const AlertData& data) const;

  // Makes `other`'s {{define}}d templates callable here with {{template "name" …}};
  // a name this template defines itself keeps its own definition.
  void Use(const Template& other);
  std::vector<std::string> DefinedNames() const;  // sorted
  // The names {{template}} calls here and in the definitions it has, sorted;
  // whether they exist is only known when it runs.
  std::vector<std::string> CalledNames() const;

 private:
  friend std::string ExpandAlert(std::string_view, const AlertData&, std::string_view);
  std::shared_ptr<const Node> root_;
  std::shared_ptr<const Definitions> defines_;  // never null after Parse
};

inline const std::vector<std::string> kAlertVariables = {"$labels", "$value", "$externalLabels", "$externalURL"};

// Expands an alert template as Prometheus does: a parse or execution error
// becomes the text `<error expanding template: …>`, worded as Prometheus
// words it for the alerting rule `rule_name` (when given).
std::string ExpandAlert(std::string_view text, const AlertData& data, std::string_view rule_name = "");

// The functions a template may call.
std::vector<std::string> FunctionNames();

// Go's formatting, exposed for tests and for the CLI.
// fmt.Sprint(float64): shortest round-trip digits, %e form below 1e-4 and from 1e6
// ("0.5", "123456", "1e+06", "1.234567e+06", "+Inf", "NaN").
std::string GoFormatFloat(double v);
// fmt.Sprintf("%.<prec>g", v).
std::string GoFormatG(double v, int prec);
std::string Humanize(double v);
std::string Humanize1024(double v);
std::string HumanizeDuration(double seconds);
std::string HumanizePercentage(double ratio);
// time.Unix(v).UTC().String(): "2026-11-25 16:00:00.5 +0000 UTC".
std::string HumanizeTimestamp(double unix_seconds);

}  // namespace vigil::tmpl
