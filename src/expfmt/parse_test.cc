#include "expfmt/parse.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "expfmt/expfmt.h"

namespace vigil::expfmt {
namespace {

struct ParsedSample {
  std::string name;
  Labels labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
  size_t line = 0;
};

struct ParsedFamily {
  std::string help;
  std::optional<FamilyType> type;
  std::string unit;
};

struct Parsed {
  std::vector<ParsedSample> samples;
  std::map<std::string, ParsedFamily> families;
  std::vector<std::string> comments;
  std::vector<TextParser::Entry> entries;
  std::string error;  // empty when the input parsed to the end
};

Parsed Parse(std::string_view input, Format format) {
  Parsed out;
  TextParser p(input, format);
  for (auto e = p.Next(); e != TextParser::kEnd; e = p.Next()) {
    out.entries.push_back(e);
    switch (e) {
      case TextParser::kSample:
        out.samples.push_back({std::string(p.name()), p.labels(), p.value(), p.timestamp_ms(), p.line()});
        break;
      case TextParser::kType: out.families[std::string(p.name())].type = p.type(); break;
      case TextParser::kHelp: out.families[std::string(p.name())].help = std::string(p.text()); break;
      case TextParser::kUnit: out.families[std::string(p.name())].unit = std::string(p.text()); break;
      case TextParser::kComment: out.comments.emplace_back(p.text()); break;
      case TextParser::kEof: break;
      case TextParser::kEnd: break;
      case TextParser::kError:
        out.error = p.status().message();
        EXPECT_FALSE(out.error.empty());
        EXPECT_EQ(p.Next(), TextParser::kError) << "errors are sticky";
        return out;
    }
  }
  EXPECT_TRUE(p.status().ok());
  EXPECT_EQ(p.Next(), TextParser::kEnd) << "kEnd is sticky";
  return out;
}

std::string ErrorOf(std::string_view input, Format format) { return Parse(input, format).error; }

constexpr Format kText = Format::kText004;
constexpr Format kOM = Format::kOpenMetrics100;

// ---------------------------------------------------------------- happy paths

TEST(TextParser, Text004HappyPath) {
  const std::string input =
      "# A free comment\n"
      "#no blank\n"
      "# HELP http_requests_total Requests with \\\\ and\\nnewline, \\\"kept\\\".\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{code=\"400\",method=\"post\"}    3   1395066363000  \n"
      "\n"
      "   \n"
      "  # indented comment\n"
      "# TYPE weird gauge\n"
      "weird{path=\"a\\\"b\\\\c\\nd\",odd=\"x\\ty\"} NaN\n"
      "weird {a=\"1\", } +Inf\n"
      "weird{} -Inf\n"
      "weird\t1e-3\n"
      "weird{a=\"\",b=\"2\"} -0.5\n"
      "metric_without_timestamp_and_labels 12.47";
  Parsed r = Parse(input, kText);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.comments, (std::vector<std::string>{"A free comment", "no blank", "indented comment"}));
  EXPECT_EQ(r.families["http_requests_total"].help, "Requests with \\ and\nnewline, \\\"kept\\\".");
  EXPECT_EQ(r.families["http_requests_total"].type, FamilyType::kCounter);
  EXPECT_EQ(r.families["weird"].type, FamilyType::kGauge);
  ASSERT_EQ(r.samples.size(), 8u);

  EXPECT_EQ(r.samples[0].name, "http_requests_total");
  EXPECT_EQ(r.samples[0].labels, (Labels{{"code", "200"}, {"method", "post"}}));
  EXPECT_EQ(r.samples[0].value, 1027);
  EXPECT_EQ(r.samples[0].timestamp_ms, 1395066363000);
  EXPECT_EQ(r.samples[0].line, 5u);
  EXPECT_EQ(r.samples[1].labels, (Labels{{"code", "400"}, {"method", "post"}}));
  EXPECT_EQ(r.samples[1].value, 3);
  EXPECT_EQ(r.samples[1].timestamp_ms, 1395066363000);

  // Label values: \" \\ \n are decoded, other escapes stay as written (as in Prometheus).
  EXPECT_EQ(r.samples[2].labels, (Labels{{"odd", "x\\ty"}, {"path", "a\"b\\c\nd"}}));
  EXPECT_TRUE(std::isnan(r.samples[2].value));
  EXPECT_EQ(r.samples[2].timestamp_ms, std::nullopt);
  EXPECT_EQ(r.samples[3].labels, (Labels{{"a", "1"}}));
  EXPECT_EQ(r.samples[3].value, HUGE_VAL);
  EXPECT_TRUE(r.samples[4].labels.empty());
  EXPECT_EQ(r.samples[4].value, -HUGE_VAL);
  EXPECT_EQ(r.samples[5].value, 1e-3);
  // An empty label value means the label is absent.
  EXPECT_EQ(r.samples[6].labels, (Labels{{"b", "2"}}));
  EXPECT_EQ(r.samples[7].name, "metric_without_timestamp_and_labels");
  EXPECT_EQ(r.samples[7].value, 12.47);
  EXPECT_EQ(r.samples[7].line, 16u);
}

TEST(TextParser, Text004TypesAndOpenMetricsOnlyLines) {
  Parsed r = Parse(
      "# TYPE a counter\n# TYPE b gauge\n# TYPE c histogram\n# TYPE d summary\n# TYPE e untyped\n"
      "# UNIT e seconds\n# EOF\n# HELP f\n",
      kText);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.families["a"].type, FamilyType::kCounter);
  EXPECT_EQ(r.families["b"].type, FamilyType::kGauge);
  EXPECT_EQ(r.families["c"].type, FamilyType::kHistogram);
  EXPECT_EQ(r.families["d"].type, FamilyType::kSummary);
  EXPECT_EQ(r.families["e"].type, FamilyType::kUnknown);
  // UNIT and EOF are plain comments in text 0.0.4; HELP may be empty.
  EXPECT_EQ(r.comments, (std::vector<std::string>{"UNIT e seconds", "EOF"}));
  EXPECT_EQ(r.families["f"].help, "");
  EXPECT_EQ(ErrorOf("# TYPE e unknown\n", kText), "line 1:10: invalid metric type \"unknown\"");
  EXPECT_EQ(ErrorOf("# TYPE e info\n", kText), "line 1:10: invalid metric type \"info\"");
}

TEST(TextParser, OpenMetricsHappyPath) {
  const std::string input =
      "# TYPE acme_http_router_request_seconds summary\n"
      "# UNIT acme_http_router_request_seconds seconds\n"
      "# HELP acme_http_router_request_seconds Latency \\\"quoted\\\" \\\\ \\n.\n"
      "acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32 1700000000.5\n"
      "acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0 1700000000.5\n"
      "acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0 1700000000.5\n"
      "# TYPE foo counter\n"
      "foo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
      "foo_total 18.0 # {trace_id=\"oHg5SJYRHA0\"} 9.8 1520879607.789\n"
      "# TYPE hist histogram\n"
      "hist_bucket{le=\"0.01\"} 0 1\n"
      "hist_bucket{le=\"+Inf\"} 17 1 # {} 1e3\n"
      "# TYPE st stateset\n"
      "st{st=\"a\"} 1\n"
      "# TYPE i info\n"
      "i_info{version=\"1.2\"} 1\n"
      "# TYPE gh gaugehistogram\n"
      "gh_bucket{le=\"+Inf\"} 1\n"
      "# TYPE u unknown\n"
      "u -Inf -1.5\n"
      "# EOF\n";
  Parsed r = Parse(input, kOM);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.entries.back(), TextParser::kEof);
  const ParsedFamily& f = r.families["acme_http_router_request_seconds"];
  EXPECT_EQ(f.type, FamilyType::kSummary);
  EXPECT_EQ(f.unit, "seconds");
  EXPECT_EQ(f.help, "Latency \"quoted\" \\ \n.");
  EXPECT_EQ(r.families["st"].type, FamilyType::kStateset);
  EXPECT_EQ(r.families["i"].type, FamilyType::kInfo);
  EXPECT_EQ(r.families["gh"].type, FamilyType::kGaugeHistogram);
  EXPECT_EQ(r.families["u"].type, FamilyType::kUnknown);

  ASSERT_EQ(r.samples.size(), 11u);
  EXPECT_EQ(r.samples[0].name, "acme_http_router_request_seconds_sum");
  EXPECT_EQ(r.samples[0].labels, (Labels{{"method", "GET"}, {"path", "/api/v1"}}));
  EXPECT_EQ(r.samples[0].value, 9036.32);
  EXPECT_EQ(r.samples[0].timestamp_ms, 1700000000500);
  EXPECT_EQ(r.samples[2].name, "acme_http_router_request_seconds_created");  // no _created handling
  // Exemplars are skipped; the sample keeps its own value and timestamp.
  EXPECT_EQ(r.samples[3].name, "foo_total");
  EXPECT_EQ(r.samples[3].value, 17);
  EXPECT_EQ(r.samples[3].timestamp_ms, 1520879607789);
  EXPECT_EQ(r.samples[4].value, 18);
  EXPECT_EQ(r.samples[4].timestamp_ms, std::nullopt);
  EXPECT_EQ(r.samples[6].labels, (Labels{{"le", "+Inf"}}));
  EXPECT_EQ(r.samples[6].timestamp_ms, 1000);
  EXPECT_EQ(r.samples[10].value, -HUGE_VAL);
  EXPECT_EQ(r.samples[10].timestamp_ms, -1500);
}

// promtool tsdb create-blocks-from openmetrics (Prometheus 2.42) stores
// int64(seconds * 1000): the double product truncated toward zero. These
// cases were run through promtool and read back with promtool tsdb dump.
TEST(TextParser, OpenMetricsTimestampsTruncateLikePromtool) {
  struct Case {
    const char* seconds;
    int64_t ms;
  };
  const Case cases[] = {
      {"1700000000.001", 1700000000001},
      {"1700000000.0015", 1700000000001},
      {"1700000000.0019", 1700000000001},
      {"1.001", 1000},  // 1.001 * 1000 == 1000.9999999999999 in doubles
      {"1700000000.9999", 1700000000999},
      {"1700000000", 1700000000000},
      {"1.7e9", 1700000000000},
      {"1700000000.123456789", 1700000000123},
      {"0.0019", 1},
      {"1700000000.0025", 1700000000002},
      {"1.0025", 1002},
      {"4.35", 4350},
      {"-1.5", -1500},
      {"-0.0019", -1},
      {"+5", 5000},
      {".5", 500},
  };
  for (const Case& c : cases) {
    Parsed r = Parse(std::string("m 1 ") + c.seconds + "\n# EOF\n", kOM);
    ASSERT_EQ(r.error, "") << c.seconds;
    ASSERT_EQ(r.samples.size(), 1u);
    EXPECT_EQ(r.samples[0].timestamp_ms, c.ms) << c.seconds;
  }
}

TEST(TextParser, ValuesFollowGoParseFloat) {
  struct Case {
    const char* text;
    double value;
  };
  const Case ok[] = {{"1", 1},
                     {"-1", -1},
                     {"+1", 1},
                     {".5", 0.5},
                     {"5.", 5},
                     {"1e3", 1000},
                     {"1E+3", 1000},
                     {"00012", 12},
                     {"1e-400", 0},
                     {"-0", -0.0},
                     {"Inf", HUGE_VAL},
                     {"+inf", HUGE_VAL},
                     {"-Infinity", -HUGE_VAL},
                     {"INF", HUGE_VAL},
                     {"1.445177e+06", 1445177},
                     {"2.70553174016e+11", 2.70553174016e+11}};
  for (const Case& c : ok) {
    Parsed r = Parse(std::string("m ") + c.text + "\n", kText);
    ASSERT_EQ(r.error, "") << c.text;
    EXPECT_EQ(r.samples[0].value, c.value) << c.text;
  }
  for (const char* nan : {"NaN", "nan", "nAn"}) {
    Parsed r = Parse(std::string("m ") + nan + "\n", kText);
    ASSERT_EQ(r.error, "") << nan;
    // Prometheus's normal NaN, never the staleness marker (0x7ff0000000000002).
    EXPECT_EQ(std::bit_cast<uint64_t>(r.samples[0].value), 0x7ff8000000000001ULL);
  }
  const char* bad[] = {"+nan", "-NaN", "infinit", "0x10", "0x1p3", "1_000", "1e", ".", "-", "+-1", "--1", "1,5", "one"};
  for (const char* b : bad) {
    EXPECT_EQ(ErrorOf(std::string("m ") + b + "\n", kText), std::string("line 1:3: invalid value \"") + b + "\"");
  }
  EXPECT_EQ(ErrorOf("m 1e400\n", kText), "line 1:3: value out of range \"1e400\"");
  EXPECT_EQ(ErrorOf("m -1e400 1\n# EOF\n", kOM), "line 1:3: value out of range \"-1e400\"");
}

// Plain decimals take a fast path (a mantissa over a power of ten); it must
// round exactly as a full decimal-to-binary conversion does, every digit count.
TEST(TextParser, PlainDecimalsRoundAsStrtod) {
  std::mt19937_64 rng(20261207);
  std::string input;
  std::vector<std::string> texts;
  std::vector<bool> as_timestamp;
  for (int i = 0; i < 20000; ++i) {
    const int digits = 1 + static_cast<int>(rng() % 17);
    std::string t;
    for (int d = 0; d < digits; ++d) t.push_back(static_cast<char>('0' + rng() % 10));
    const int point = static_cast<int>(rng() % (digits + 2));
    if (point <= digits) t.insert(static_cast<size_t>(point), ".");
    if (rng() % 4 == 0) t.insert(0, "-");
    texts.push_back(t);
    as_timestamp.push_back(digits <= 15);  // seconds * 1000 must fit in an int64
    input += "m " + t + " " + (as_timestamp.back() ? t : "0") + "\n";
  }
  input += "# EOF\n";
  Parsed r = Parse(input, kOM);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.samples.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const double want = std::strtod(texts[i].c_str(), nullptr);
    ASSERT_EQ(std::bit_cast<uint64_t>(r.samples[i].value), std::bit_cast<uint64_t>(want)) << texts[i];
    if (as_timestamp[i]) {
      ASSERT_EQ(r.samples[i].timestamp_ms, static_cast<int64_t>(want * 1000.0)) << texts[i];
    }
  }
}

// A series expected next is recognised by its name and label text alone; any
// other byte, name or spelling is parsed (and checked) as usual.
TEST(TextParser, ExpectedSeriesSkipsItsLabelBlock) {
  const std::string input =
      "m{b=\"2\",a=\"1\"} 1 10\n"   // parsed: the text of series 1
      "m{b=\"2\",a=\"1\"} 2 11\n"   // as expected
      "n{b=\"2\",a=\"1\"} 3 12\n"   // another name
      "m{a=\"1\",b=\"2\"} 4 13\n"   // the same series spelled otherwise
      "m{b=\"2\",a=\"1\",} 5 14\n"  // one byte more
      "m{b=\"2\",a=\"1\"} 6 15\n"
      "m{b=\"2\",a=\"1\",a=\"3\"} 7 16\n";
  TextParser p(input, kText);
  ASSERT_EQ(p.Next(), TextParser::kSample);
  EXPECT_FALSE(p.as_expected());
  const std::string text(p.label_text());
  EXPECT_EQ(text, "{b=\"2\",a=\"1\"}");
  const std::vector<Label> labels(p.label_list().begin(), p.label_list().end());
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[0].name, "a");  // sorted
  p.Expect("m", text, labels);

  ASSERT_EQ(p.Next(), TextParser::kSample);
  EXPECT_TRUE(p.as_expected());
  EXPECT_EQ(p.label_list().data(), labels.data()) << "the caller's labels, not parsed again";
  EXPECT_EQ(p.labels().Get("b"), "2");
  EXPECT_EQ(p.value(), 2);
  EXPECT_EQ(p.timestamp_ms(), 11);

  for (double value : {3.0, 4.0, 5.0}) {
    ASSERT_EQ(p.Next(), TextParser::kSample) << value;
    EXPECT_FALSE(p.as_expected()) << value;
    EXPECT_EQ(p.value(), value);
    ASSERT_EQ(p.label_list().size(), 2u) << value;
    EXPECT_EQ(p.label_list()[0].name, "a") << value;
    EXPECT_EQ(p.label_list()[1].value, "2") << value;
  }
  ASSERT_EQ(p.Next(), TextParser::kSample);
  EXPECT_TRUE(p.as_expected());
  // A duplicate label is still an error though the block starts as expected.
  EXPECT_EQ(p.Next(), TextParser::kError);
  EXPECT_NE(p.status().message().find("duplicate label"), std::string::npos) << p.status().message();
}

// ---------------------------------------------------------------- errors

struct ErrorCase {
  const char* input;
  const char* error;
};

TEST(TextParser, Text004Errors) {
  const ErrorCase cases[] = {
      // Names.
      {"1m 1\n", "line 1:1: expected metric name or comment, got '1'"},
      {"{a=\"1\"} 1\n", "line 1:1: expected metric name or comment, got '{'"},
      {"m-x 1\n", "line 1:2: invalid character '-' in metric name"},
      {"ok 1\n  m 1\n", "line 2:1: unexpected whitespace before metric name"},
      {"m{1a=\"x\"} 1\n", "line 1:3: expected label name, got '1'"},
      {"m{a:b=\"x\"} 1\n", "line 1:4: expected '=' after label name, got ':'"},
      {"m{a=1} 1\n", "line 1:5: expected '\"' to open the label value, got '1'"},
      {"m{,} 1\n", "line 1:3: expected label name, got ','"},
      // Label sets.
      {"m{a=\"1\",a=\"2\"} 1\n", "line 1:9: duplicate label name \"a\""},
      {"m{b=\"1\",a=\"2\",b=\"3\"} 1\n", "line 1:15: duplicate label name \"b\""},
      {"m{a=\"\",a=\"2\"} 1\n", "line 1:8: duplicate label name \"a\""},
      {"m{__name__=\"x\"} 1\n",
       "line 1:3: label name \"__name__\" is not allowed: the metric name comes before the labels"},
      {"m{a=\"1\" b=\"2\"} 1\n", "line 1:9: expected ',' or '}' after label value, got 'b'"},
      {"m{a=\"1\"\n", "line 1:8: expected ',' or '}' after label value, got end of line"},
      {"m{a=\"1", "line 1:7: unterminated label value: expected '\"', got end of input"},
      {"m{a=\"x\ny\"} 1\n", "line 1:7: line feed in label value (escape it as \\n)"},
      {"m{a=\"x\\\ny\"} 1\n", "line 1:8: line feed in label value (escape it as \\n)"},
      {"m{a=\"\xff\"} 1\n", "line 1:6: invalid UTF-8 in label value"},
      {"m{a=\"\xed\xa0\x80\"} 1\n", "line 1:6: invalid UTF-8 in label value"},  // a surrogate
      {"m{a=\"x\"}{b=\"y\"} 1\n", "line 1:9: invalid value \"{b=\\\"y\\\"}\""},
      // Values and timestamps.
      {"m\n", "line 1:2: expected value after metric name, got end of line"},
      {"m", "line 1:2: expected value after metric name, got end of input"},
      {"m{a=\"1\"} \n", "line 1:10: expected value, got end of line"},
      {"m 1}\n", "line 1:3: invalid value \"1}\""},
      {"m 1 -5\n", "line 1:5: expected timestamp or end of line, got '-'"},
      {"m 1 1.5\n", "line 1:5: invalid timestamp \"1.5\""},
      {"m 1 99999999999999999999\n", "line 1:5: timestamp out of range \"99999999999999999999\""},
      {"m 1 5 6\n", "line 1:7: expected end of line after timestamp, got '6'"},
      {"m 1 # {a=\"b\"} 1\n", "line 1:5: expected timestamp or end of line, got '#'"},
      // Metadata.
      {"# TYPE m counter \n", "line 1:10: invalid metric type \"counter \""},
      {"# TYPE m  counter\n", "line 1:10: invalid metric type \" counter\""},
      {"# TYPE m\n", "line 1:9: invalid metric type \"\""},
      {"# TYPE \n", "line 1:8: expected metric name after TYPE, got end of line"},
      {"# HELP m-x foo\n", "line 1:9: invalid character '-' in metric name"},
      {"# HELP m \xff\n", "line 1:10: invalid UTF-8 in help text"},
      // CRLF (Prometheus rejects it on samples and TYPE lines; we reject it everywhere).
      {"m 1\r\n", "line 1:4: unexpected carriage return: CRLF line endings are not supported"},
      {"m 1 5\r\n", "line 1:6: unexpected carriage return: CRLF line endings are not supported"},
      {"m{a=\"b\"}\r\n", "line 1:9: unexpected carriage return: CRLF line endings are not supported"},
      {"m\r\n", "line 1:2: unexpected carriage return: CRLF line endings are not supported"},
      {"# TYPE m counter\r\n", "line 1:17: unexpected carriage return: CRLF line endings are not supported"},
      {"# HELP m help\r\n", "line 1:14: unexpected carriage return: CRLF line endings are not supported"},
      {"# comment\r\n", "line 1:10: unexpected carriage return: CRLF line endings are not supported"},
      {"ok 1\n\r\n", "line 2:1: unexpected carriage return: CRLF line endings are not supported"},
      // The line number counts every line, blank or not.
      {"a 1\n\n# c\nb 2\n\n\nc{x=\"1\" 3\n", "line 7:9: expected ',' or '}' after label value, got '3'"},
  };
  for (const ErrorCase& c : cases) EXPECT_EQ(ErrorOf(c.input, kText), c.error) << c.input;
}

TEST(TextParser, OpenMetricsErrors) {
  const ErrorCase cases[] = {
      // Missing # EOF, and anything after it.
      {"", "line 1:1: data does not end with # EOF"},
      {"m 1 5\n", "line 2:1: data does not end with # EOF"},
      {"m 1 5", "line 1:6: data does not end with # EOF"},
      {"# HELP m x", "line 1:11: data does not end with # EOF"},
      {"m 1 5\n# EOF\nx", "line 3:1: unexpected data after # EOF"},
      {"m 1 5\n# EOF\n\n", "line 3:1: unexpected data after # EOF"},
      {"m 1 5\n# EOF \n", "line 2:6: unexpected data after # EOF"},
      {"# EOF\r\n", "line 1:6: unexpected carriage return: CRLF line endings are not supported"},
      // Lines OpenMetrics does not have.
      {"\nm 1\n# EOF\n", "line 1:1: empty line (OpenMetrics allows none)"},
      {"# hello\n# EOF\n",
       "line 1:1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF' (OpenMetrics has no other comments)"},
      {"#HELP m x\n# EOF\n",
       "line 1:1: expected '# HELP', '# TYPE', '# UNIT' or '# EOF' (OpenMetrics has no other comments)"},
      {" m 1\n# EOF\n", "line 1:1: expected metric name, '# HELP', '# TYPE', '# UNIT' or '# EOF', got ' '"},
      // Whitespace is exactly one space.
      {"m  1\n# EOF\n", "line 1:3: expected value, got ' '"},
      {"m\t1\n# EOF\n", "line 1:2: expected ' ' or '{' after metric name, got '\\t'"},
      {"m{a=\"1\"}  1\n# EOF\n", "line 1:10: expected value, got ' '"},
      {"m{a=\"1\", b=\"2\"} 1\n# EOF\n", "line 1:9: expected label name, got ' '"},
      {"m{a =\"1\"} 1\n# EOF\n", "line 1:4: expected '=' after label name, got ' '"},
      {"m 1 5 \n# EOF\n", "line 1:7: expected an exemplar (\"# {\") after timestamp and ' ', got end of line"},
      {"m 1 \n# EOF\n", "line 1:5: expected timestamp or exemplar, got end of line"},
      {"m 1\t5\n# EOF\n", "line 1:3: invalid value \"1\\t5\""},
      {"m 1 5\r\n# EOF\n", "line 1:6: unexpected carriage return: CRLF line endings are not supported"},
      // Label sets.
      {"m{a=\"1\",} 1\n# EOF\n", "line 1:9: expected label name, got '}'"},
      {"m{a=\"1\",a=\"2\"} 1\n# EOF\n", "line 1:9: duplicate label name \"a\""},
      {"m{a=\"x\ny\"} 1\n# EOF\n", "line 1:7: line feed in label value (escape it as \\n)"},
      // Timestamps are float seconds.
      {"m 1 Inf\n# EOF\n", "line 1:5: invalid timestamp \"Inf\""},
      {"m 1 NaN\n# EOF\n", "line 1:5: invalid timestamp \"NaN\""},
      {"m 1 0x10\n# EOF\n", "line 1:5: invalid timestamp \"0x10\""},
      {"m 1 1e400\n# EOF\n", "line 1:5: timestamp out of range \"1e400\""},
      {"m 1 9223372036854776\n# EOF\n", "line 1:5: timestamp out of range \"9223372036854776\""},
      {"m 1 5 6\n# EOF\n", "line 1:7: expected an exemplar (\"# {\") after timestamp and ' ', got '6'"},
      // Exemplars: only on *_total and *_bucket samples, and well formed.
      {"m 1 5 # {t=\"x\"} 1\n# EOF\n",
       "line 1:7: metric name \"m\" does not support exemplars (only *_total and *_bucket samples do)"},
      {"c_created 1 # {t=\"x\"} 1\n# EOF\n",
       "line 1:13: metric name \"c_created\" does not support exemplars (only *_total and *_bucket samples do)"},
      {"c_total 1 5 # {t=\"x\"}\n# EOF\n", "line 1:22: expected ' ' before exemplar value, got end of line"},
      {"c_total 1 5 # {t=\"x\",} 2\n# EOF\n", "line 1:22: expected label name, got '}'"},
      {"c_total 1 5 # {t=\"x\"} 2 NaN\n# EOF\n", "line 1:25: invalid exemplar timestamp \"NaN\""},
      {"c_total 1 5 # {t=\"x\"} 2 1 2\n# EOF\n", "line 1:26: expected end of line after exemplar, got ' '"},
      {"c_total 1 5 # {t=\"x\"} z\n# EOF\n", "line 1:23: invalid exemplar value \"z\""},
      {"c_total 1 5 #  {t=\"x\"} 1\n# EOF\n",
       "line 1:13: expected an exemplar (\"# {\") after timestamp and ' ', got '#'"},
      // Metadata.
      {"# TYPE m untyped\n# EOF\n", "line 1:10: invalid metric type \"untyped\""},
      {"# TYPE m counter \n# EOF\n", "line 1:10: invalid metric type \"counter \""},
      {"# TYPE m\n# EOF\n", "line 1:9: expected ' ' and text after metric name in TYPE, got end of line"},
      {"# HELP m\n# EOF\n", "line 1:9: expected ' ' and text after metric name in HELP, got end of line"},
      {"# HELP  m x\n# EOF\n", "line 1:8: expected metric name after HELP, got ' '"},
      {"# UNIT m_bytes seconds\n# EOF\n", "line 1:16: unit \"seconds\" is not a suffix of metric \"m_bytes\""},
      {"# UNIT xseconds seconds\n# EOF\n", "line 1:17: unit \"seconds\" is not a suffix of metric \"xseconds\""},
      {"# UNIT seconds seconds\n# EOF\n", "line 1:16: unit \"seconds\" is not a suffix of metric \"seconds\""},
  };
  for (const ErrorCase& c : cases) EXPECT_EQ(ErrorOf(c.input, kOM), c.error) << c.input;
}

TEST(TextParser, OpenMetricsAcceptsWhatPromtoolAccepts) {
  // Each of these went through promtool tsdb create-blocks-from openmetrics.
  const char* ok[] = {
      "# HELP m \nm 1 5\n# EOF\n",                  // empty help
      "# UNIT m_seconds \nm_seconds 1 5\n# EOF\n",  // empty unit
      "m{a=\"\",b=\"x\"} 1 5\n# EOF\n",             // empty value: label absent
      "m{} 1 5\n# EOF\n",                           // empty label set
      "m 1 5\n# EOF",                               // no newline after # EOF
      "# EOF\n",                                    // nothing at all
      "c_total 1 5 # {} 1.0\n# EOF\n",              // empty exemplar labels
      "other_total 1 5 # {t=\"x\"} 1 2\n# EOF\n",   // no TYPE needed
      "m{a=\"x\\ty\"} 1 5\n# EOF\n",                // unknown escape kept
      "m{a=\"\xc3\xa9\"} 1 5\n# EOF\n",             // UTF-8
      ":m_:x 1 5\n# EOF\n",                         // colons in metric names
  };
  for (const char* input : ok) EXPECT_EQ(ErrorOf(input, kOM), "") << input;
  Parsed r = Parse("m{a=\"\",b=\"x\"} 1 5\n# EOF\n", kOM);
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0].labels, (Labels{{"b", "x"}}));
}

TEST(TextParser, LabelsAreSortedAndBuffersReused) {
  const std::string input = "m{z=\"1\",b=\"2\",a=\"3\"} 1\nm{c=\"x\"} 2\nm 3\n";
  TextParser p(input, kText);
  ASSERT_EQ(p.Next(), TextParser::kSample);
  std::span<const Label> first = p.label_list();
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].name, "a");
  EXPECT_EQ(first[1].name, "b");
  EXPECT_EQ(first[2].name, "z");
  EXPECT_EQ(p.labels(), (Labels{{"a", "3"}, {"b", "2"}, {"z", "1"}}));
  ASSERT_EQ(p.Next(), TextParser::kSample);
  EXPECT_EQ(p.labels(), (Labels{{"c", "x"}}));
  EXPECT_EQ(p.label_list().data(), first.data()) << "the label storage is reused";
  ASSERT_EQ(p.Next(), TextParser::kSample);
  EXPECT_TRUE(p.label_list().empty());
  EXPECT_TRUE(p.labels().empty());
  EXPECT_EQ(p.Next(), TextParser::kEnd);
}

TEST(TextParser, LinesLongerThanOneMegabyte) {
  const std::string big(2 << 20, 'x');
  for (Format f : {kText, kOM}) {
    std::string input = "# HELP m " + big + "\nm{a=\"" + big + "\"} 1 2\n";
    if (f == kOM) input += "# EOF\n";
    Parsed r = Parse(input, f);
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.families["m"].help, big);
    ASSERT_EQ(r.samples.size(), 1u);
    EXPECT_EQ(r.samples[0].labels.Get("a"), big);
  }
  // An error far into a long line has the right column and a short message.
  std::string bad = "m{a=\"" + big + "\"} " + big + "\n";
  std::string error = ErrorOf(bad, kText);
  EXPECT_EQ(error, "line 1:" + std::to_string(big.size() + 9) + ": invalid value \"" + std::string(48, 'x') + "\"...");
}

TEST(TextParser, MissingFinalNewline) {
  Parsed r = Parse("# HELP m help\n# TYPE m gauge\nm{a=\"b\"} 1 2", kText);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0].timestamp_ms, 2);
  EXPECT_EQ(Parse("# TYPE m gauge", kText).families["m"].type, FamilyType::kGauge);
  EXPECT_EQ(Parse("# a comment", kText).comments, std::vector<std::string>{"a comment"});
  EXPECT_EQ(Parse("", kText).entries.size(), 0u);
  EXPECT_EQ(ErrorOf("m 1\n# EOF", kOM), "");
}

// ---------------------------------------------------------------- round trip

MetricBatch RoundTripBatch() {
  MetricBatch b;
  b.AddCounter("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", Labels{{"cpu", "0"}, {"mode", "idle"}},
               12.5);
  b.AddCounter("node_cpu_seconds_total", "", Labels{{"cpu", "1"}, {"mode", "user"}}, 1e-9);
  b.AddGauge("node_load1", "1m load average.", {}, 0.25);
  b.AddGauge("weird", "Help with \\ and\nnewline and \"quotes\".", Labels{{"path", "a\"b\\c\nd"}, {"u", "é€"}}, NAN);
  b.AddGauge("weird", "", Labels{{"path", "inf"}}, HUGE_VAL);
  b.AddGauge("weird", "", Labels{{"path", "-inf"}}, -HUGE_VAL);
  b.AddGauge("big", "", {}, 1.7976931348623157e308);
  b.AddGauge("tiny", "", {}, 5e-324);
  b.Add("node_netstat_Tcp_CurrEstab", "Statistic Tcp_CurrEstab.", MetricType::kUntyped, {}, 3);
  b.AddCounter("odd_counter", "A counter without the suffix.", {}, 1);
  return b;
}

void ExpectSameValue(double a, double b, const std::string& what) {
  if (std::isnan(a)) {
    EXPECT_TRUE(std::isnan(b)) << what;
  } else {
    EXPECT_EQ(a, b) << what;
  }
}

TEST(TextParser, RoundTripWithRenderer) {
  MetricBatch batch = RoundTripBatch();
  for (Format format : {kText, kOM}) {
    std::string text;
    Render({&batch}, format, &text);
    Parsed r = Parse(text, format);
    ASSERT_EQ(r.error, "") << text;
    EXPECT_EQ(r.entries.back(), format == kOM ? TextParser::kEof : TextParser::kSample);

    size_t i = 0;
    for (const MetricFamily& f : batch.families()) {
      // OpenMetrics names a counter family without _total, or calls it unknown.
      std::string family = f.name;
      MetricType type = f.type;
      if (format == kOM && type == MetricType::kCounter) {
        if (family.ends_with("_total")) {
          family.resize(family.size() - 6);
        } else {
          type = MetricType::kUntyped;
        }
      }
      ASSERT_TRUE(r.families.count(family)) << family;
      EXPECT_EQ(r.families[family].help, f.help) << family;
      ASSERT_TRUE(r.families[family].type.has_value());
      EXPECT_EQ(ToMetricType(*r.families[family].type), type) << family;
      EXPECT_EQ(FamilyTypeName(*r.families[family].type, format), type == MetricType::kCounter ? "counter"
                                                                  : type == MetricType::kGauge
                                                                      ? "gauge"
                                                                      : (format == kOM ? "unknown" : "untyped"));
    }
    // Render sorts families by name; compare sample by sample in that order.
    std::map<std::string, const MetricFamily*> sorted;
    for (const MetricFamily& f : batch.families()) sorted[f.name] = &f;
    for (const auto& [name, f] : sorted) {
      for (const Sample& s : f->samples) {
        ASSERT_LT(i, r.samples.size());
        const ParsedSample& got = r.samples[i++];
        EXPECT_EQ(got.name, name);
        EXPECT_EQ(got.labels, s.labels) << name;
        ExpectSameValue(got.value, s.value, name);
        EXPECT_EQ(got.timestamp_ms, std::nullopt);
      }
    }
    EXPECT_EQ(i, r.samples.size());
  }
}

// ---------------------------------------------------------------- real output

// Lines from a real prometheus-node-exporter 1.5.0 scrape (Debian 12).
constexpr std::string_view kNodeExporterLines =
    "# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.\n"
    "# TYPE go_gc_duration_seconds summary\n"
    "go_gc_duration_seconds{quantile=\"0\"} 0\n"
    "go_gc_duration_seconds{quantile=\"0.25\"} 0\n"
    "go_gc_duration_seconds_sum 0\n"
    "go_gc_duration_seconds_count 0\n"
    "# HELP go_memstats_buck_hash_sys_bytes Number of bytes used by the profiling bucket hash table.\n"
    "# TYPE go_memstats_buck_hash_sys_bytes gauge\n"
    "go_memstats_buck_hash_sys_bytes 1.445177e+06\n"
    "# HELP node_boot_time_seconds Node boot time, in unixtime.\n"
    "# TYPE node_boot_time_seconds gauge\n"
    "node_boot_time_seconds 1.795624151e+09\n"
    "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
    "# TYPE node_cpu_seconds_total counter\n"
    "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1228.33\n"
    "node_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 0.9\n"
    "# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.\n"
    "# TYPE node_filesystem_avail_bytes gauge\n"
    "node_filesystem_avail_bytes{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 8.4790161408e+10\n"
    "# HELP node_os_info A metric with a constant '1' value labeled by build_id, id, id_like, image_id, "
    "image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.\n"
    "# TYPE node_os_info gauge\n"
    "node_os_info{build_id=\"\",id=\"debian\",id_like=\"\",image_id=\"\",image_version=\"\",name=\"Debian GNU/Linux\","
    "pretty_name=\"Debian GNU/Linux 12 (bookworm)\",variant=\"\",variant_id=\"\",version=\"12 (bookworm)\","
    "version_codename=\"bookworm\",version_id=\"12\"} 1\n"
    "# HELP node_uname_info Labeled system information as provided by the uname system call.\n"
    "# TYPE node_uname_info gauge\n"
    "node_uname_info{domainname=\"(none)\",machine=\"x86_64\",nodename=\"vm\",release=\"6.18.44-fc-v669\","
    "sysname=\"Linux\",version=\"#1 SMP PREEMPT_DYNAMIC @0\"} 1\n"
    "# HELP node_netstat_Tcp_CurrEstab Statistic TcpCurrEstab.\n"
    "# TYPE node_netstat_Tcp_CurrEstab untyped\n"
    "node_netstat_Tcp_CurrEstab 0\n";

TEST(TextParser, RealNodeExporterLines) {
  Parsed r = Parse(kNodeExporterLines, kText);
  ASSERT_EQ(r.error, "");
  ASSERT_EQ(r.samples.size(), 12u);
  EXPECT_EQ(r.families["go_gc_duration_seconds"].type, FamilyType::kSummary);
  EXPECT_EQ(r.families["node_netstat_Tcp_CurrEstab"].type, FamilyType::kUnknown);
  EXPECT_EQ(r.families["node_os_info"].help.substr(0, 26), "A metric with a constant '");
  EXPECT_EQ(r.samples[1].labels, (Labels{{"quantile", "0.25"}}));
  EXPECT_EQ(r.samples[4].value, 1445177);
  EXPECT_EQ(r.samples[5].value, 1795624151);
  EXPECT_EQ(r.samples[6].labels, (Labels{{"cpu", "0"}, {"mode", "idle"}}));
  EXPECT_EQ(r.samples[6].value, 1228.33);
  EXPECT_EQ(r.samples[8].value, 8.4790161408e+10);
  // Empty values are dropped: 6 of node_os_info's 12 labels remain.
  EXPECT_EQ(r.samples[9].labels, (Labels{{"id", "debian"},
                                         {"name", "Debian GNU/Linux"},
                                         {"pretty_name", "Debian GNU/Linux 12 (bookworm)"},
                                         {"version", "12 (bookworm)"},
                                         {"version_codename", "bookworm"},
                                         {"version_id", "12"}}));
  EXPECT_EQ(r.samples[10].labels.Get("version"), "#1 SMP PREEMPT_DYNAMIC @0");
  EXPECT_EQ(r.samples[10].line, 25u);
}

TEST(TextParser, RealNodeExporterScrapeFile) {
  std::ifstream in(std::string(VIGIL_TESTDATA_DIR) + "/expfmt/node_exporter.prom", std::ios::binary);
  ASSERT_TRUE(in) << "tests/testdata/expfmt/node_exporter.prom is missing";
  std::stringstream ss;
  ss << in.rdbuf();
  Parsed r = Parse(ss.str(), kText);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.samples.size(), 507u);
  EXPECT_EQ(r.families.size(), 283u);
  EXPECT_EQ(r.comments.size(), 0u);
  // Every sample name belongs to a declared family (client_golang always writes TYPE).
  for (const ParsedSample& s : r.samples) {
    bool found = r.families.count(s.name) > 0;
    for (std::string_view suffix : {"_sum", "_count", "_bucket"}) {
      if (s.name.ends_with(suffix)) found |= r.families.count(s.name.substr(0, s.name.size() - suffix.size())) > 0;
    }
    EXPECT_TRUE(found) << s.name;
  }
}

}  // namespace
}  // namespace vigil::expfmt
