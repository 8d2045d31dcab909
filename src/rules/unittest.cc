#include "rules/unittest.h"

#include <glob.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "base/file.h"
#include "base/labels.h"
#include "base/strings.h"
#include "promql/engine.h"
#include "rules/builtin_packs.h"
#include "rules/group.h"
#include "tsdb/memory.h"

namespace vigil::rules {

namespace {

// A number as the series notation allows it (`x` is the repeat operator, so no hex).
bool ScanNumber(std::string_view s, size_t& i, double* out) {
  size_t start = i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  auto lower = [&](size_t n) {
    std::string w(s.substr(i, n));
    for (auto& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return w;
  };
  if (lower(3) == "inf" || lower(3) == "nan") {
    bool neg = s[start] == '-';
    *out = lower(3) == "nan" ? std::nan("") : (neg ? -INFINITY : INFINITY);
    i += 3;
    if (lower(5) == "inity") i += 5;
    return true;
  }
  size_t digits = i;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == digits) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t save = i++;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    } else {
      i = save;
    }
  }
  std::optional<double> v = ParseDouble(s.substr(start, i - start));
  if (!v) return false;
  *out = *v;
  return true;
}

// strconv.FormatFloat(v, 'E', -1, 64): "1E+00", "3.0000000000000004E+00".
std::string FormatE(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  size_t e = s.find('e');
  std::string mant = s.substr(0, e);
  int exp = std::stoi(s.substr(e + 1));
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "E%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
  return mant + ebuf;
}

std::string Indent(const std::string& lines, const std::string& indent) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    out += lines[i];
    if (lines[i] == '\n') out += indent;
  }
  return out;
}

std::string MapString(const std::map<std::string, std::string>& m) {
  std::vector<Label> ls;
  for (const auto& [k, v] : m) ls.push_back({k, v});
  return Labels::FromUnsorted(std::move(ls)).ToString();
}

struct LabelsAndAnnotations {
  Labels labels;
  std::map<std::string, std::string> annotations;
  friend bool operator==(const LabelsAndAnnotations&, const LabelsAndAnnotations&) = default;
  friend bool operator<(const LabelsAndAnnotations& a, const LabelsAndAnnotations& b) {
    if (a.labels != b.labels) return a.labels < b.labels;
    return a.annotations < b.annotations;
  }
};

std::string AlertsString(const std::vector<LabelsAndAnnotations>& la) {
  if (la.empty()) return "[]";
  std::string s = "[";
  for (size_t i = 0; i < la.size(); ++i) {
    if (i > 0) s += ",";
    s += "\n" + std::to_string(i) + ":" +
         Indent("\nLabels:" + la[i].labels.ToString() + "\nAnnotations:" + MapString(la[i].annotations), "  ");
  }
  return s + "\n]";
}

struct ParsedSample {
  Labels labels;
  double value = 0;
  friend bool operator<(const ParsedSample& a, const ParsedSample& b) { return a.labels < b.labels; }
};

std::string SamplesString(const std::vector<ParsedSample>& s) {
  if (s.empty()) return "nil";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0) out += ", ";
    out += s[i].labels.ToString() + " " + FormatE(s[i].value);
  }
  return out;
}

Result<Labels> ParseSeriesLabels(const std::string& text) {
  if (Trim(text).empty()) return Labels{};
  Result<std::vector<tsdb::Matcher>> m = promql::ParseMetricSelector(text);
  if (!m.ok()) return m.status();
  std::vector<Label> ls;
  for (const auto& x : *m) {
    if (x.type() != tsdb::Matcher::Type::kEqual) return Status::Error("only = matchers may describe a series: " + text);
    if (!x.value().empty()) ls.push_back({x.name(), x.value()});
  }
  return Labels::FromUnsorted(std::move(ls));
}

// ---------------------------------------------------------------------------
// The test file.

struct InputSeries {
  Labels labels;
  std::vector<std::optional<double>> values;
};
struct ExpAlert {
  std::map<std::string, std::string> labels, annotations;
};
struct AlertTest {
  Duration eval_time{0};
  std::string alertname;
  std::vector<ExpAlert> exp_alerts;
};
struct ExpSample {
  std::string labels;
  double value = 0;
};
struct ExprTest {
  std::string expr;
  Duration eval_time{0};
  std::vector<ExpSample> exp_samples;
};
struct TestGroup {
  std::string name;
  Duration interval{0};
  std::vector<InputSeries> input;
  std::vector<AlertTest> alert_tests;
  std::vector<ExprTest> expr_tests;
  Labels external_labels;
  std::string external_url;
};
struct TestFile {
  std::vector<std::string> rule_files;
  Duration evaluation_interval{60000};
  std::vector<std::string> group_eval_order;
  std::vector<TestGroup> tests;
};

class FileDecoder {
 public:
  explicit FileDecoder(std::string file) : file_(std::move(file)) {}
  std::vector<std::string> problems;

  void Report(const YAML::Node& n, const std::string& msg) {
    YAML::Mark m = n.Mark();
    if (m.is_null()) {
      problems.push_back(file_ + ": " + msg);
    } else {
      problems.push_back(file_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + msg);
    }
  }
  bool Keys(const YAML::Node& n, std::initializer_list<const char*> known, const char* type) {
    if (n.IsNull()) return true;
    if (!n.IsMap()) {
      Report(n, std::string("expected a mapping for ") + type);
      return false;
    }
    bool ok = true;
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (std::none_of(known.begin(), known.end(), [&](const char* x) { return k == x; })) {
        Report(it->first, "field " + k + " not found in type " + type);
        ok = false;
      }
    }
    return ok;
  }
  std::string Str(const YAML::Node& n) {
    if (!n || n.IsNull()) return "";
    if (!n.IsScalar()) {
      Report(n, "expected a string");
      return "";
    }
    return n.Scalar();
  }
  Duration Dur(const YAML::Node& n) {
    if (!n || n.IsNull()) return Duration(0);
    Result<Duration> d = ParseDuration(Str(n));
    if (!d.ok()) {
      Report(n, d.status().message());
      return Duration(0);
    }
    return *d;
  }
  std::map<std::string, std::string> StrMap(const YAML::Node& n) {
    std::map<std::string, std::string> out;
    if (!n || n.IsNull()) return out;
    if (!n.IsMap()) {
      Report(n, "expected a mapping");
      return out;
    }
    for (auto it = n.begin(); it != n.end(); ++it) out[Str(it->first)] = Str(it->second);
    return out;
  }
  template <typename Fn>
  void List(const YAML::Node& n, Fn&& fn) {
    if (!n || n.IsNull()) return;
    if (!n.IsSequence()) {
      Report(n, "expected a list");
      return;
    }
    for (size_t i = 0; i < n.size(); ++i) fn(n[i]);
  }

  TestFile Decode(const YAML::Node& root) {
    TestFile f;
    if (!Keys(root, {"rule_files", "evaluation_interval", "group_eval_order", "tests"}, "unitTestFile")) return f;
    List(root["rule_files"], [&](const YAML::Node& n) { f.rule_files.push_back(Str(n)); });
    if (root["evaluation_interval"]) f.evaluation_interval = Dur(root["evaluation_interval"]);
    if (f.evaluation_interval.count() <= 0) f.evaluation_interval = Duration(60000);
    List(root["group_eval_order"], [&](const YAML::Node& n) { f.group_eval_order.push_back(Str(n)); });
    List(root["tests"], [&](const YAML::Node& n) {
      TestGroup g;
      Keys(n,
           {"interval", "input_series", "alert_rule_test", "promql_expr_test", "external_labels", "external_url",
            "name"},
           "testGroup");
      if (!n.IsMap() && !n.IsNull()) return;
      g.name = Str(n["name"]);
      g.interval = Dur(n["interval"]);
      g.external_url = Str(n["external_url"]);
      std::vector<Label> ext;
      for (auto& [k, v] : StrMap(n["external_labels"])) ext.push_back({k, v});
      g.external_labels = Labels::FromUnsorted(std::move(ext));
      List(n["input_series"], [&](const YAML::Node& s) {
        if (!Keys(s, {"series", "values"}, "series")) return;
        InputSeries in;
        Result<Labels> labels = ParseSeriesLabels(Str(s["series"]));
        if (!labels.ok()) {
          Report(s["series"], labels.status().message());
          return;
        }
        in.labels = *labels;
        Result<std::vector<std::optional<double>>> values = ExpandSeriesValues(Str(s["values"]));
        if (!values.ok()) {
          Report(s["values"], values.status().message());
          return;
        }
        in.values = std::move(*values);
        g.input.push_back(std::move(in));
      });
      List(n["alert_rule_test"], [&](const YAML::Node& a) {
        if (!Keys(a, {"eval_time", "alertname", "exp_alerts"}, "alertTestCase")) return;
        AlertTest t;
        t.eval_time = Dur(a["eval_time"]);
        t.alertname = Str(a["alertname"]);
        List(a["exp_alerts"], [&](const YAML::Node& e) {
          if (!Keys(e, {"exp_labels", "exp_annotations"}, "alert")) return;
          t.exp_alerts.push_back({StrMap(e["exp_labels"]), StrMap(e["exp_annotations"])});
        });
        g.alert_tests.push_back(std::move(t));
      });
      List(n["promql_expr_test"], [&](const YAML::Node& p) {
        if (!Keys(p, {"expr", "eval_time", "exp_samples"}, "promqlTestCase")) return;
        ExprTest t;
        t.expr = Str(p["expr"]);
        t.eval_time = Dur(p["eval_time"]);
        List(p["exp_samples"], [&](const YAML::Node& e) {
          if (!Keys(e, {"labels", "value"}, "sample")) return;
          ExpSample s;
          s.labels = Str(e["labels"]);
          if (e["value"]) {
            std::string v = Str(e["value"]);
            size_t i = 0;
            if (!ScanNumber(v, i, &s.value) || i != v.size()) Report(e["value"], "invalid value \"" + v + "\"");
          }
          t.exp_samples.push_back(std::move(s));
        });
        g.expr_tests.push_back(std::move(t));
      });
      f.tests.push_back(std::move(g));
    });
    return f;
  }

 private:
  std::string file_;
};

struct LoadedSample {
  TimestampMs t;
  size_t series;
  double v;
};

// Runs one test group; returns the failures in promtool's wording.
std::vector<std::string> RunGroup(const TestGroup& tg, const TestFile& tf, const std::vector<std::string>& rule_files) {
  std::vector<std::string> errs;
  const int64_t eval_interval = tf.evaluation_interval.count();
  const int64_t interval = tg.interval.count() > 0 ? tg.interval.count() : eval_interval;

  promql::EngineOptions eo;
  eo.default_subquery_step = tf.evaluation_interval;
  promql::Engine engine(eo);
  tsdb::MemoryStorage storage;
  EvalContext ctx;
  ctx.engine = &engine;
  ctx.querier = [&storage](TimestampMs mint, TimestampMs maxt, const tsdb::ReadHints&) {
    return storage.NewQuerier(mint, maxt);
  };
  ctx.external_labels = tg.external_labels;
  ctx.external_url = tg.external_url;
  AppenderFactory appender = [&storage]() { return storage.NewAppender(); };

  LoadResult loaded = LoadRuleFiles(rule_files);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems) errs.push_back(p.ToString());
    return errs;
  }
  std::vector<std::unique_ptr<Group>> groups;
  for (auto& g : loaded.groups) groups.push_back(std::make_unique<Group>(std::move(g), Duration(interval)));
  if (!tf.group_eval_order.empty()) {
    std::map<std::string, size_t> order;
    for (size_t i = 0; i < tf.group_eval_order.size(); ++i) {
      if (!order.emplace(tf.group_eval_order[i], i).second) {
        return {"group name repeated in evaluation order: " + tf.group_eval_order[i]};
      }
    }
    std::stable_sort(groups.begin(), groups.end(), [&](const auto& a, const auto& b) {
      // Unlisted groups rank as the first listed one, as in promtool.
      auto rank = [&](const std::string& n) { return order.count(n) ? order.at(n) : 0; };
      return rank(a->name()) < rank(b->name());
    });
  }

  // Input samples, loaded lazily: those at or before each evaluation time.
  std::vector<LoadedSample> samples;
  for (size_t s = 0; s < tg.input.size(); ++s) {
    for (size_t i = 0; i < tg.input[s].values.size(); ++i) {
      if (tg.input[s].values[i]) samples.push_back({static_cast<TimestampMs>(i) * interval, s, *tg.input[s].values[i]});
    }
  }
  std::stable_sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) { return a.t < b.t; });
  size_t next_sample = 0;

  int64_t maxt = 0;
  for (const auto& a : tg.alert_tests) maxt = std::max<int64_t>(maxt, a.eval_time.count());
  for (const auto& e : tg.expr_tests) maxt = std::max<int64_t>(maxt, e.eval_time.count());

  for (const auto& a : tg.alert_tests) {
    if (a.alertname.empty()) {
      std::string where = tg.name.empty() ? "" : " (in TestGroup " + tg.name + ")";
      return {"an item under alert_rule_test misses required attribute alertname at eval_time " +
              FormatDuration(a.eval_time) + where};
    }
  }
  std::vector<int64_t> alert_times;
  for (const auto& a : tg.alert_tests) alert_times.push_back(a.eval_time.count());
  std::sort(alert_times.begin(), alert_times.end());
  alert_times.erase(std::unique(alert_times.begin(), alert_times.end()), alert_times.end());
  size_t curr = 0;

  for (int64_t ts = 0; ts <= maxt; ts += eval_interval) {
    while (next_sample < samples.size() && samples[next_sample].t <= ts) {
      const auto& s = samples[next_sample++];
      storage.Add(tg.input[s.series].labels, s.t, s.v);
    }
    std::vector<std::string> eval_errs;
    for (auto& g : groups) {
      g->Eval(ts, ctx, appender);
      for (const auto& r : g->rules()) {
        if (r->health() == RuleHealth::kError && r->last_evaluation() == ts) {
          eval_errs.push_back("    rule: " + r->name() + ", time: " + FormatDuration(Duration(ts)) +
                              ", err: " + r->last_error());
        }
      }
    }
    if (!eval_errs.empty()) {
      errs.insert(errs.end(), eval_errs.begin(), eval_errs.end());
      return errs;
    }
    while (curr < alert_times.size() && ts <= alert_times[curr] && alert_times[curr] < ts + eval_interval) {
      int64_t t = alert_times[curr];
      std::map<std::string, std::vector<LabelsAndAnnotations>> got;
      for (const auto& g : groups) {
        for (const auto& r : g->rules()) {
          if (!r->is_alert()) continue;
          bool tested = std::any_of(tg.alert_tests.begin(), tg.alert_tests.end(), [&](const AlertTest& a) {
            return a.eval_time.count() == t && a.alertname == r->name();
          });
          if (!tested) continue;
          auto& list = got[r->name()];
          for (const auto& a : r->Alerts()) {
            if (a.state == AlertState::kFiring) list.push_back({a.labels, a.annotations});
          }
        }
      }
      for (const auto& test : tg.alert_tests) {
        if (test.eval_time.count() != t) continue;
        std::vector<LabelsAndAnnotations> got_alerts = got[test.alertname];
        std::vector<LabelsAndAnnotations> exp;
        for (const auto& e : test.exp_alerts) {
          std::vector<Label> ls;
          for (const auto& [k, v] : e.labels) ls.push_back({k, v});
          Labels labels = Labels::FromUnsorted(std::move(ls));
          labels.Set("alertname", test.alertname);
          exp.push_back({labels, e.annotations});
        }
        std::sort(got_alerts.begin(), got_alerts.end());
        std::sort(exp.begin(), exp.end());
        if (exp != got_alerts) {
          std::string name = tg.name.empty() ? "" : "    name: " + tg.name + ",\n";
          errs.push_back(name + "    alertname: " + test.alertname + ", time: " + FormatDuration(test.eval_time) +
                         ", \n        exp:" + Indent(AlertsString(exp), "            ") +
                         ", \n        got:" + Indent(AlertsString(got_alerts), "            "));
        }
      }
      ++curr;
    }
  }

  for (const auto& test : tg.expr_tests) {
    std::string head = "    expr: \"" + test.expr + "\", time: " + FormatDuration(test.eval_time);
    Result<promql::ExprPtr> expr = promql::ParseExpr(test.expr);
    if (!expr.ok()) {
      errs.push_back(head + ", err: " + expr.status().message());
      continue;
    }
    promql::QueryResult r = engine.Instant(ctx.querier, **expr, test.eval_time.count());
    if (!r.ok) {
      errs.push_back(head + ", err: " + r.error.message);
      continue;
    }
    Result<std::vector<promql::Sample>> vec = ToVector(r.value);
    if (!vec.ok()) {
      errs.push_back(head + ", err: " + vec.status().message());
      continue;
    }
    std::vector<ParsedSample> got, exp;
    for (const auto& s : *vec) got.push_back({s.labels, s.v});
    bool bad = false;
    for (const auto& e : test.exp_samples) {
      Result<Labels> labels = ParseSeriesLabels(e.labels);
      if (!labels.ok()) {
        errs.push_back(head + ", err: labels \"" + e.labels + "\": " + labels.status().message());
        bad = true;
        break;
      }
      exp.push_back({*labels, e.value});
    }
    if (bad) continue;
    std::stable_sort(got.begin(), got.end());
    std::stable_sort(exp.begin(), exp.end());
    bool same = got.size() == exp.size();
    for (size_t i = 0; same && i < got.size(); ++i) {
      same = got[i].labels == exp[i].labels && got[i].value == exp[i].value;
    }
    if (!same) {
      errs.push_back(head + ",\n        exp: " + SamplesString(exp) + "\n        got: " + SamplesString(got));
    }
  }
  return errs;
}

}  // namespace

Result<std::vector<std::optional<double>>> ExpandSeriesValues(std::string_view text) {
  std::vector<std::optional<double>> out;
  constexpr size_t kMaxSamples = 10'000'000;
  for (std::string_view item : SplitFields(text)) {
    auto bad = [&]() { return Status::Error("invalid series value \"" + std::string(item) + "\""); };
    auto repeat = [&](std::string_view n_text, int64_t* n) {
      std::optional<uint64_t> v = ParseUint64(n_text);
      if (!v || *v > kMaxSamples || out.size() + *v > kMaxSamples) return false;
      *n = static_cast<int64_t>(*v);
      return true;
    };
    if (item == "_") {
      out.push_back(std::nullopt);
      continue;
    }
    if (item == "stale") {
      out.push_back(tsdb::StaleNaN());
      continue;
    }
    if (StartsWith(item, "_x")) {
      int64_t n;
      if (!repeat(item.substr(2), &n)) return bad();
      for (int64_t k = 0; k < n; ++k) out.push_back(std::nullopt);
      continue;
    }
    size_t i = 0;
    double a;
    if (!ScanNumber(item, i, &a)) return bad();
    if (i == item.size()) {
      out.push_back(a);
      continue;
    }
    double delta = 0;
    if (item[i] == '+' || item[i] == '-') {
      bool neg = item[i] == '-';
      ++i;
      if (i < item.size() && (item[i] == '+' || item[i] == '-')) return bad();
      if (!ScanNumber(item, i, &delta)) return bad();
      if (neg) delta = -delta;
    }
    if (i >= item.size() || item[i] != 'x') return bad();
    int64_t n;
    if (!repeat(item.substr(i + 1), &n)) return bad();
    // Accumulated, as Prometheus's series grammar does (`$1 += $2`), so float
    // rounding matches promtool's and the PromQL test scripts' exactly.
    for (int64_t k = 0; k <= n; ++k, a += delta) out.push_back(a);
  }
  return out;
}

TestFileResult RunRuleTestFile(const std::string& path) {
  TestFileResult result;
  std::vector<std::string>& errs = result.failures;
  Result<std::string> content = ReadFile(path, 16 << 20);
  TestFile tf;
  FileDecoder d(path);
  if (!content.ok()) {
    errs.push_back(content.status().message());
  } else {
    try {
      YAML::Node root = YAML::Load(*content);
      tf = d.Decode(root);
    } catch (const YAML::Exception& e) {
      errs.push_back(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                     ": invalid YAML: " + e.msg);
    }
    errs.insert(errs.end(), d.problems.begin(), d.problems.end());
  }
  if (errs.empty()) {
    std::filesystem::path base = std::filesystem::path(path).parent_path();
    std::vector<std::string> rule_files;
    for (const auto& rf : tf.rule_files) {
      if (IsBuiltinPackRef(rf)) {  // an embedded pack, as in vigil.yml; promtool does not know these
        rule_files.push_back(rf);
        continue;
      }
      std::filesystem::path p(rf);
      std::string full = p.is_absolute() || base.empty() ? rf : (base / p).string();
      if (full.find_first_of("*?[") != std::string::npos) {
        glob_t g{};
        if (::glob(full.c_str(), 0, nullptr, &g) == 0) {
          for (size_t i = 0; i < g.gl_pathc; ++i) rule_files.emplace_back(g.gl_pathv[i]);
        }
        globfree(&g);
      } else {
        rule_files.push_back(full);
      }
    }
    for (const auto& tg : tf.tests) {
      std::vector<std::string> e = RunGroup(tg, tf, rule_files);
      errs.insert(errs.end(), e.begin(), e.end());
    }
  }
  result.passed = errs.empty();
  return result;
}

int RunRuleTests(const std::vector<std::string>& files, std::FILE* out, std::FILE* err) {
  int rc = 0;
  for (const auto& f : files) {
    std::fprintf(out, "Unit Testing:  %s\n", f.c_str());
    std::fflush(out);
    TestFileResult r = RunRuleTestFile(f);
    if (r.passed) {
      std::fputs("  SUCCESS\n\n", out);
      continue;
    }
    rc = 1;
    std::fputs("  FAILED:\n", err);
    for (const auto& e : r.failures) {
      std::fprintf(err, "%s\n", e.c_str());
      std::fflush(err);
      std::fputs("\n", out);
      std::fflush(out);
    }
    std::fputs("\n", out);
  }
  std::fflush(out);
  return rc;
}

}  // namespace vigil::rules
