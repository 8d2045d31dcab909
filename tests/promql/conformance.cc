// Runs Prometheus's PromQL test scripts (../shared/conformance/promql, format
// described in FORMAT.md there) against vigil's engine and reports pass rates.
//
//   promql_conformance DIR [--min-core-rate R] [--report FILE.md] [--verbose]
//
// Exits 1 when the core pass rate is below R (a ratchet for CI).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/labels.h"
#include "promql/ast.h"
#include "promql/engine.h"
#include "rules/unittest.h"
#include "tsdb/memory.h"

namespace {

using vigil::Labels;
using vigil::TimestampMs;
using vigil::promql::ValueType;

std::string Trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t\r");
  return std::string(s.substr(a, b - a + 1));
}

// Header durations: groups of <int><unit> in descending units, or "0".
bool ParseDuration(std::string_view s, int64_t* ms) {
  if (s == "0") {
    *ms = 0;
    return true;
  }
  static const std::vector<std::pair<std::string, int64_t>> kUnits = {
      {"ms", 1},  {"y", 365LL * 86400000}, {"w", 7LL * 86400000}, {"d", 86400000}, {"h", 3600000}, {"m", 60000},
      {"s", 1000}};
  int64_t total = 0;
  size_t i = 0;
  if (s.empty()) return false;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
    if (j == i) return false;
    int64_t n = std::stoll(std::string(s.substr(i, j - i)));
    bool found = false;
    for (const auto& [unit, mult] : kUnits) {
      if (s.substr(j, unit.size()) == unit) {
        total += n * mult;
        i = j + unit.size();
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  *ms = total;
  return true;
}

// Go string unquoting for "…", '…' and `…`; `pos` is advanced past the literal.
bool Unquote(std::string_view s, size_t& pos, std::string* out) {
  char q = s[pos];
  if (q != '"' && q != '\'' && q != '`') return false;
  ++pos;
  out->clear();
  while (pos < s.size() && s[pos] != q) {
    char c = s[pos++];
    if (c != '\\' || q == '`') {
      *out += c;
      continue;
    }
    if (pos >= s.size()) return false;
    char e = s[pos++];
    switch (e) {
      case 'n': *out += '\n'; break;
      case 't': *out += '\t'; break;
      case 'r': *out += '\r'; break;
      case 'a': *out += '\a'; break;
      case 'b': *out += '\b'; break;
      case 'f': *out += '\f'; break;
      case 'v': *out += '\v'; break;
      case 'x': {
        *out += static_cast<char>(std::stoi(std::string(s.substr(pos, 2)), nullptr, 16));
        pos += 2;
        break;
      }
      case 'u':
      case 'U': {
        size_t n = e == 'u' ? 4 : 8;
        uint32_t cp = static_cast<uint32_t>(std::stoul(std::string(s.substr(pos, n)), nullptr, 16));
        pos += n;
        if (cp < 0x80) {
          *out += static_cast<char>(cp);
        } else if (cp < 0x800) {
          *out += static_cast<char>(0xC0 | (cp >> 6));
          *out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
          *out += static_cast<char>(0xE0 | (cp >> 12));
          *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          *out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
          *out += static_cast<char>(0xF0 | (cp >> 18));
          *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
          *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          *out += static_cast<char>(0x80 | (cp & 0x3F));
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          *out += static_cast<char>(std::stoi(std::string(s.substr(pos - 1, 3)), nullptr, 8));
          pos += 2;
        } else {
          *out += e;
        }
    }
  }
  if (pos >= s.size()) return false;
  ++pos;
  return true;
}

// `name{a="b", …}` or `{__name__="x"}` as an exact label set. Sets `rest` to
// the text after the series.
bool ParseSeries(std::string_view line, Labels* labels, std::string_view* rest) {
  size_t i = 0;
  std::vector<vigil::Label> ls;
  while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' || line[i] == ':')) {
    ++i;
  }
  if (i > 0) ls.push_back({"__name__", std::string(line.substr(0, i))});
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
      if (i >= line.size()) return false;
      if (line[i] == '}') {
        ++i;
        break;
      }
      std::string name;
      if (line[i] == '"') {
        if (!Unquote(line, i, &name)) return false;
      } else {
        while (i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_')) {
          name += line[i++];
        }
      }
      while (i < line.size() && line[i] == ' ') ++i;
      if (i < line.size() && (line[i] == ',' || line[i] == '}')) {  // a quoted metric name
        ls.push_back({"__name__", name});
        continue;
      }
      if (i >= line.size() || line[i] != '=') return false;
      ++i;
      while (i < line.size() && line[i] == ' ') ++i;
      std::string value;
      if (!Unquote(line, i, &value)) return false;
      ls.push_back({name, value});
    }
  }
  if (ls.empty() && i == 0) return false;
  *labels = Labels::FromUnsorted(std::move(ls));
  *rest = line.substr(i);
  return true;
}

// A number as the series notation allows (no hex: `x` is the repeat operator).
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
  *out = std::strtod(std::string(s.substr(start, i - start)).c_str(), nullptr);
  return true;
}

// Expands value items with the series notation `vigil test rules` uses (one
// parser for both); nullopt entries are "no sample".
bool ExpandValues(std::string_view text, std::vector<std::optional<double>>* out) {
  auto v = vigil::rules::ExpandSeriesValues(text);
  if (!v.ok()) return false;
  *out = std::move(*v);
  return true;
}

bool AlmostEqual(double a, double b) {
  if (vigil::tsdb::IsStaleNaN(a) || vigil::tsdb::IsStaleNaN(b))
    return vigil::tsdb::IsStaleNaN(a) && vigil::tsdb::IsStaleNaN(b);
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  const double kMinNormal = 2.2250738585072014e-308;
  double diff = std::fabs(a - b);
  if (a == 0 || b == 0 || std::fabs(a) + std::fabs(b) < kMinNormal) return diff < 1e-6 * kMinNormal;
  return diff / std::min(std::fabs(a) + std::fabs(b), 1.7976931348623157e308) < 1e-6;
}

std::string Fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

struct EvalCase {
  std::string file;
  int line = 0;
  bool range = false;
  int64_t at = 0, start = 0, end = 0, step = 0;
  std::string expr;
  bool expect_fail = false;
  std::string fail_msg, fail_regex;
  bool ordered = false;
  bool want_warn = false, want_no_warn = false, want_info = false, want_no_info = false;
  bool has_range_vector = false;
  int64_t rv_start = 0, rv_end = 0, rv_step = 0;
  std::optional<std::string> expect_string;
  std::optional<double> scalar;
  std::vector<std::pair<Labels, std::vector<std::optional<double>>>> series;
};

struct Outcome {
  bool pass = false;
  std::string reason;
};

class Runner {
 public:
  explicit Runner(vigil::promql::Engine engine) : engine_(std::move(engine)) {}

  // The eval as written, then (instant evals) the checks upstream's harness
  // adds: the same query with `@ T` on every selector at other times, and
  // each as a range query around its evaluation time.
  Outcome Run(const EvalCase& c) {
    auto parsed = vigil::promql::ParseExpr(c.expr);
    if (!parsed.ok()) return {false, "parse error: " + parsed.status().message()};
    Outcome o = RunOne(c, **parsed, c.at);
    if (!o.pass || c.range) return o;
    std::vector<std::pair<const vigil::promql::Expr*, TimestampMs>> variants = {{parsed->get(), c.at}};
    vigil::promql::ExprPtr pinned;
    if (!UsesTime(c.expr)) {
      pinned = (*parsed)->Clone();
      PinToTime(*pinned, c.at);
      std::vector<TimestampMs> times = c.at == 0 ? std::vector<TimestampMs>{-1000, 0, 1000}
                                                 : std::vector<TimestampMs>{-10 * c.at, 0, c.at / 5, c.at, 10 * c.at};
      for (TimestampMs t : times) {
        Outcome p = RunOne(c, *pinned, t);
        if (!p.pass) return {false, "with @ " + std::to_string(c.at) + " at t=" + std::to_string(t) + ": " + p.reason};
        variants.push_back({pinned.get(), t});
      }
    }
    const bool skip_range = c.expect_fail || c.has_range_vector || c.expect_string ||
                            c.expr.find("start()") != std::string::npos || c.expr.find("end()") != std::string::npos ||
                            c.expr.find("range()") != std::string::npos || c.expr.find("step()") != std::string::npos;
    if (skip_range) return o;
    for (const auto& [expr, t] : variants) {
      Outcome r = RunAsRange(c, *expr, t);
      if (!r.pass) return {false, "as a range query around t=" + std::to_string(t) + ": " + r.reason};
    }
    return o;
  }

  Outcome RunOne(const EvalCase& c, const vigil::promql::Expr& expr, TimestampMs at) {
    vigil::promql::QueryResult r = c.range ? engine_.Range(Storage(), expr, c.start, c.end, vigil::Duration(c.step))
                                           : engine_.Instant(Storage(), expr, at);
    if (c.expect_fail) {
      if (r.ok) return {false, "expected failure, got success"};
      if (!c.fail_msg.empty() && r.error.message != c.fail_msg) {
        return {false, "error message: got \"" + r.error.message + "\", want \"" + c.fail_msg + "\""};
      }
      return {true, ""};
    }
    if (!r.ok) return {false, "unexpected error: " + r.error.message};
    if (c.want_warn && r.warnings.empty()) return {false, "expected a warning"};
    if (c.want_no_warn && !r.warnings.empty()) return {false, "unexpected warning: " + r.warnings[0]};
    if (c.want_info && r.infos.empty()) return {false, "expected an info annotation"};
    if (c.want_no_info && !r.infos.empty()) return {false, "unexpected info: " + r.infos[0]};
    return Compare(c, r.value);
  }

  vigil::tsdb::MemoryStorage& storage() { return storage_; }

 private:
  vigil::promql::QuerierFactory Storage() {
    return [this](TimestampMs mint, TimestampMs maxt, const vigil::tsdb::ReadHints&) {
      return storage_.NewQuerier(mint, maxt);
    };
  }

  static bool UsesTime(const std::string& expr) {
    for (const char* f : {"time", "timestamp", "predict_linear", "start", "end", "range", "step", "year", "month",
                          "day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute"}) {
      if (expr.find(std::string(f) + "(") != std::string::npos) return true;
    }
    return false;
  }

  // Gives every selector and subquery without `@` the modifier `@ t`
  // (not descending into subqueries, whose inner steps must keep moving).
  static void PinToTime(vigil::promql::Expr& e, TimestampMs t) {
    using vigil::promql::AtKind;
    using Kind = vigil::promql::Expr::Kind;
    switch (e.kind) {
      case Kind::kVectorSelector: {
        auto& vs = static_cast<vigil::promql::VectorSelector&>(e);
        if (vs.at == AtKind::kNone) {
          vs.at = AtKind::kTimestamp;
          vs.at_ms = t;
        }
        break;
      }
      case Kind::kMatrixSelector: PinToTime(*static_cast<vigil::promql::MatrixSelector&>(e).selector, t); break;
      case Kind::kSubquery: {
        auto& sq = static_cast<vigil::promql::SubqueryExpr&>(e);
        if (sq.at == AtKind::kNone) {
          sq.at = AtKind::kTimestamp;
          sq.at_ms = t;
        }
        break;
      }
      case Kind::kParen: PinToTime(*static_cast<vigil::promql::ParenExpr&>(e).expr, t); break;
      case Kind::kUnary: PinToTime(*static_cast<vigil::promql::UnaryExpr&>(e).expr, t); break;
      case Kind::kBinary: {
        auto& b = static_cast<vigil::promql::BinaryExpr&>(e);
        PinToTime(*b.lhs, t);
        PinToTime(*b.rhs, t);
        break;
      }
      case Kind::kAggregate: {
        auto& a = static_cast<vigil::promql::AggregateExpr&>(e);
        PinToTime(*a.expr, t);
        if (a.param) PinToTime(*a.param, t);
        break;
      }
      case Kind::kCall:
        for (auto& arg : static_cast<vigil::promql::Call&>(e).args) PinToTime(*arg, t);
        break;
      default: break;
    }
  }

  // A range query from t-1m to t+1m at 1m: must succeed, and its points at t
  // must be the instant result (values unchecked for ordered evals).
  Outcome RunAsRange(const EvalCase& c, const vigil::promql::Expr& expr, TimestampMs t) {
    vigil::promql::QueryResult r = engine_.Range(Storage(), expr, t - 60000, t + 60000, vigil::Duration(60000));
    if (!r.ok) return {false, "error: " + r.error.message};
    if (c.ordered) return {true, ""};
    vigil::promql::Value v;
    if (c.scalar) {
      v.type = ValueType::kScalar;
      for (const auto& s : r.value.matrix) {
        for (const auto& p : s.points) {
          if (p.t == t) v.scalar = p.v;
        }
      }
    } else {
      v.type = ValueType::kVector;
      for (const auto& s : r.value.matrix) {
        for (const auto& p : s.points) {
          if (p.t == t) v.vector.push_back({s.labels, t, p.v});
        }
      }
    }
    return Compare(c, v);
  }

  Outcome Compare(const EvalCase& c, const vigil::promql::Value& v) {
    if (c.expect_string) {
      if (v.type != ValueType::kString) return {false, "expected a string"};
      return {v.string == *c.expect_string, "string: got \"" + v.string + "\""};
    }
    if (c.scalar) {
      if (v.type != ValueType::kScalar) return {false, "expected a scalar, got " + std::string(ValueTypeName(v.type))};
      return {AlmostEqual(v.scalar, *c.scalar), "scalar: got " + Fmt(v.scalar) + ", want " + Fmt(*c.scalar)};
    }
    if (c.range || c.has_range_vector) {
      if (v.type != ValueType::kMatrix) {
        if (c.series.empty() && v.type == ValueType::kVector && v.vector.empty()) return {true, ""};
        return {false, "expected a matrix, got " + std::string(ValueTypeName(v.type))};
      }
      int64_t start = c.range ? c.start : c.rv_start, step = c.range ? c.step : c.rv_step;
      std::map<Labels, std::vector<vigil::promql::Point>> want;
      for (const auto& [labels, values] : c.series) {
        auto& pts = want[labels];
        for (size_t k = 0; k < values.size(); ++k) {
          if (values[k]) pts.push_back({start + static_cast<int64_t>(k) * step, *values[k]});
        }
      }
      std::erase_if(want, [](const auto& e) { return e.second.empty(); });
      std::map<Labels, std::vector<vigil::promql::Point>> got;
      for (const auto& s : v.matrix) {
        if (!s.points.empty()) got[s.labels] = s.points;
      }
      for (const auto& [labels, pts] : got) {
        auto it = want.find(labels);
        if (it == want.end()) return {false, "unexpected series " + labels.ToString()};
        if (it->second.size() != pts.size()) {
          return {false, labels.ToString() + ": got " + std::to_string(pts.size()) + " points, want " +
                             std::to_string(it->second.size())};
        }
        for (size_t k = 0; k < pts.size(); ++k) {
          if (pts[k].t != it->second[k].t || !AlmostEqual(pts[k].v, it->second[k].v)) {
            return {false, labels.ToString() + ": point " + std::to_string(k) + " got " + Fmt(pts[k].v) + "@" +
                               std::to_string(pts[k].t) + ", want " + Fmt(it->second[k].v) + "@" +
                               std::to_string(it->second[k].t)};
          }
        }
      }
      for (const auto& [labels, pts] : want) {
        if (!got.count(labels)) return {false, "missing series " + labels.ToString()};
      }
      return {true, ""};
    }
    if (v.type == ValueType::kScalar) return {false, "got a scalar, want a vector"};
    if (v.type != ValueType::kVector) return {false, "got " + std::string(ValueTypeName(v.type))};
    if (v.vector.size() != c.series.size()) {
      std::string got;
      for (const auto& s : v.vector) got += " " + s.labels.ToString() + "=" + Fmt(s.v);
      return {false, "got " + std::to_string(v.vector.size()) + " series, want " + std::to_string(c.series.size()) +
                         ":" + got};
    }
    for (size_t k = 0; k < c.series.size(); ++k) {
      const auto& [labels, values] = c.series[k];
      if (values.size() != 1 || !values[0]) return {false, "bad expectation line"};
      const vigil::promql::Sample* found = nullptr;
      if (c.ordered) {
        if (v.vector[k].labels == labels) found = &v.vector[k];
      } else {
        for (const auto& s : v.vector) {
          if (s.labels == labels) found = &s;
        }
      }
      if (found == nullptr) return {false, "missing series " + labels.ToString() + (c.ordered ? " (ordered)" : "")};
      if (!AlmostEqual(found->v, *values[0])) {
        return {false, labels.ToString() + ": got " + Fmt(found->v) + ", want " + Fmt(*values[0])};
      }
    }
    return {true, ""};
  }

  vigil::promql::Engine engine_;
  vigil::tsdb::MemoryStorage storage_;
};

struct Flags {
  bool native_histogram = false;
  bool core = false;
};

// EVALS.tsv: file, line, kind, native_histogram, expect_fail, features, expr.
std::map<std::pair<std::string, int>, Flags> ReadEvalsIndex(const std::string& path) {
  std::map<std::pair<std::string, int>, Flags> out;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    if (cols.size() < 7) continue;
    Flags f;
    f.native_histogram = cols[3] == "1";
    f.core = !f.native_histogram && (cols[5] == "-" || cols[5] == "anno");
    out[{cols[0], std::stoi(cols[1])}] = f;
  }
  return out;
}

struct FileStats {
  int core_total = 0, core_pass = 0, other_total = 0, other_pass = 0, skipped = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [--min-core-rate R] [--report FILE] [--verbose] [--file NAME]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1], report_path, only_file;
  double min_rate = 0;
  bool verbose = false;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--min-core-rate" && i + 1 < argc) min_rate = std::stod(argv[++i]);
    if (a == "--report" && i + 1 < argc) report_path = argv[++i];
    if (a == "--file" && i + 1 < argc) only_file = argv[++i];
    if (a == "--verbose") verbose = true;
  }
  if (!std::filesystem::exists(dir + "/EVALS.tsv")) {
    std::fprintf(stderr, "no conformance data in %s: skipped\n", dir.c_str());
    return 77;
  }
  auto index = ReadEvalsIndex(dir + "/EVALS.tsv");
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".test") files.push_back(e.path().filename());
  }
  std::sort(files.begin(), files.end());

  std::map<std::string, FileStats> stats;
  std::vector<std::string> failures;
  vigil::promql::EngineOptions opts;
  opts.max_samples = 10000000;
  for (const auto& file : files) {
    if (!only_file.empty() && file != only_file) continue;
    std::ifstream in(dir + "/" + file);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    Runner runner{vigil::promql::Engine(opts)};
    FileStats& fs = stats[file];
    size_t i = 0;
    while (i < lines.size()) {
      std::string header = Trim(lines[i]);
      int header_line = static_cast<int>(i) + 1;
      ++i;
      if (header.empty() || header[0] == '#') continue;
      std::vector<std::string> body;
      // `clear` stands alone: the next line may start a command.
      while (i < lines.size() && header != "clear") {
        std::string t = Trim(lines[i]);
        if (t.empty() || t[0] == '#') break;
        body.push_back(t);
        ++i;
      }
      std::string word = header.substr(0, header.find_first_of(" \t"));
      std::string lower = word;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower == "clear") {
        runner.storage().Clear();
        continue;
      }
      if (lower.rfind("load", 0) == 0) {
        int64_t step;
        std::string rest = Trim(header.substr(word.size()));
        if (!ParseDuration(rest, &step)) {
          std::fprintf(stderr, "%s:%d: bad load step\n", file.c_str(), header_line);
          continue;
        }
        std::map<Labels, std::vector<std::optional<double>>> defs;
        for (const auto& b : body) {
          if (b.find("{{") != std::string::npos) continue;  // native histograms: out of scope
          Labels labels;
          std::string_view values;
          if (!ParseSeries(b, &labels, &values)) continue;
          if (!values.empty() && values[0] == '@') continue;  // start timestamps: out of scope
          std::vector<std::optional<double>> v;
          if (!ExpandValues(values, &v)) {
            std::fprintf(stderr, "%s:%d: bad values: %s\n", file.c_str(), header_line, b.c_str());
            continue;
          }
          defs[labels] = std::move(v);
        }
        for (const auto& [labels, values] : defs) {
          for (size_t k = 0; k < values.size(); ++k) {
            if (values[k]) runner.storage().Add(labels, static_cast<int64_t>(k) * step, *values[k]);
          }
        }
        continue;
      }
      if (lower.rfind("eval", 0) != 0) {
        std::fprintf(stderr, "%s:%d: unknown command %s\n", file.c_str(), header_line, word.c_str());
        continue;
      }
      EvalCase c;
      c.file = file;
      c.line = header_line;
      c.expect_fail = lower == "eval_fail";
      c.ordered = lower == "eval_ordered";
      std::istringstream hs(header.substr(word.size()));
      std::string kind, tok;
      hs >> kind;
      bool ok = true;
      if (kind == "instant") {
        hs >> tok;  // at
        hs >> tok;
        ok = ParseDuration(tok, &c.at);
      } else {
        c.range = true;
        std::string from, to, step;
        hs >> tok >> from >> tok >> to >> tok >> step;
        ok = ParseDuration(from, &c.start) && ParseDuration(to, &c.end) && ParseDuration(step, &c.step);
      }
      std::getline(hs, c.expr);
      c.expr = Trim(c.expr);
      for (const auto& b : body) {
        if (b.rfind("expect ", 0) == 0) {
          std::string e = b.substr(7);
          if (e.rfind("fail", 0) == 0) {
            c.expect_fail = true;
            auto m = e.find("msg:");
            if (m != std::string::npos) c.fail_msg = Trim(e.substr(m + 4));
          } else if (e.rfind("no_warn", 0) == 0) {
            c.want_no_warn = true;
          } else if (e.rfind("no_info", 0) == 0) {
            c.want_no_info = true;
          } else if (e.rfind("warn", 0) == 0) {
            c.want_warn = true;
          } else if (e.rfind("info", 0) == 0) {
            c.want_info = true;
          } else if (e.rfind("ordered", 0) == 0) {
            c.ordered = true;
          } else if (e.rfind("range vector", 0) == 0) {
            std::istringstream rs(e.substr(12));
            std::string f, t1, t2, s;
            rs >> tok >> t1 >> tok >> t2 >> tok >> s;
            c.has_range_vector =
                ParseDuration(t1, &c.rv_start) && ParseDuration(t2, &c.rv_end) && ParseDuration(s, &c.rv_step);
          } else if (e.rfind("string", 0) == 0) {
            std::string lit = Trim(e.substr(6));
            size_t p = 0;
            std::string out;
            if (!lit.empty() && Unquote(lit, p, &out)) c.expect_string = out;
          }
          continue;
        }
        size_t p = 0;
        double num;
        if (ScanNumber(b, p, &num) && p == b.size()) {
          c.scalar = num;
          continue;
        }
        Labels labels;
        std::string_view values;
        if (!ParseSeries(b, &labels, &values)) {
          ok = false;
          continue;
        }
        std::vector<std::optional<double>> v;
        if (!ExpandValues(values, &v)) ok = false;
        c.series.push_back({labels, v});
      }
      Flags flags = index.count({file, header_line}) ? index[{file, header_line}] : Flags{};
      if (flags.native_histogram) {
        fs.skipped++;
        continue;
      }
      Outcome o = ok ? runner.Run(c) : Outcome{false, "runner could not read the eval"};
      (flags.core ? fs.core_total : fs.other_total)++;
      if (o.pass) {
        (flags.core ? fs.core_pass : fs.other_pass)++;
      } else {
        failures.push_back(file + ":" + std::to_string(header_line) + (flags.core ? " [core] " : " [exp] ") + "`" +
                           c.expr + "`: " + o.reason);
        if (verbose) std::fprintf(stderr, "FAIL %s\n", failures.back().c_str());
      }
    }
  }

  FileStats total;
  std::ostringstream table;
  table << "| file | core pass | core evals | experimental pass | experimental evals | native-histogram (skipped) |\n"
           "|---|---:|---:|---:|---:|---:|\n";
  for (const auto& [file, s] : stats) {
    table << "| " << file << " | " << s.core_pass << " | " << s.core_total << " | " << s.other_pass << " | "
          << s.other_total << " | " << s.skipped << " |\n";
    total.core_pass += s.core_pass;
    total.core_total += s.core_total;
    total.other_pass += s.other_pass;
    total.other_total += s.other_total;
    total.skipped += s.skipped;
  }
  table << "| **total** | **" << total.core_pass << "** | **" << total.core_total << "** | **" << total.other_pass
        << "** | **" << total.other_total << "** | **" << total.skipped << "** |\n";
  double rate = total.core_total ? static_cast<double>(total.core_pass) / total.core_total : 0;
  std::printf("%s", table.str().c_str());
  std::printf("core: %d/%d passed (%.1f%%); experimental non-histogram: %d/%d\n", total.core_pass, total.core_total,
              rate * 100, total.other_pass, total.other_total);
  if (!report_path.empty()) {
    std::ofstream out(report_path);
    out << table.str() << "\n### Failing evals\n\n";
    for (const auto& f : failures) out << "- " << f << "\n";
  }
  if (rate + 1e-9 < min_rate) {
    std::fprintf(stderr, "core pass rate %.4f is below the required %.4f\n", rate, min_rate);
    return 1;
  }
  return 0;
}
