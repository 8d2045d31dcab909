#include "expfmt/expfmt.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vigil::expfmt {
namespace {

MetricBatch Sample() {
  MetricBatch b;
  b.AddCounter("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", Labels{{"cpu", "0"}, {"mode", "idle"}},
               12.5);
  b.AddGauge("node_load1", "1m load average.", {}, 0.25);
  b.AddGauge("weird", "Help with \\ and\nnewline.", Labels{{"path", "a\"b\\c\nd"}}, NAN);
  b.Add("node_netstat_Tcp_CurrEstab", "Statistic Tcp_CurrEstab.", MetricType::kUntyped, {}, 3);
  b.AddCounter("odd_counter", "A counter without the suffix.", {}, 1);
  return b;
}

TEST(Expfmt, Text004) {
  MetricBatch b = Sample();
  std::string out;
  Render({&b}, Format::kText004, &out);
  EXPECT_EQ(out,
            "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
            "# TYPE node_cpu_seconds_total counter\n"
            "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 12.5\n"
            "# HELP node_load1 1m load average.\n"
            "# TYPE node_load1 gauge\n"
            "node_load1 0.25\n"
            "# HELP node_netstat_Tcp_CurrEstab Statistic Tcp_CurrEstab.\n"
            "# TYPE node_netstat_Tcp_CurrEstab untyped\n"
            "node_netstat_Tcp_CurrEstab 3\n"
            "# HELP odd_counter A counter without the suffix.\n"
            "# TYPE odd_counter counter\n"
            "odd_counter 1\n"
            "# HELP weird Help with \\\\ and\\nnewline.\n"
            "# TYPE weird gauge\n"
            "weird{path=\"a\\\"b\\\\c\\nd\"} NaN\n");
}

TEST(Expfmt, OpenMetrics) {
  MetricBatch b = Sample();
  std::string out;
  Render({&b}, Format::kOpenMetrics100, &out);
  EXPECT_NE(out.find("# TYPE node_cpu_seconds counter\nnode_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 12.5\n"),
            std::string::npos);
  EXPECT_NE(out.find("# TYPE node_netstat_Tcp_CurrEstab unknown\n"), std::string::npos);
  EXPECT_NE(out.find("# TYPE odd_counter unknown\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("# EOF\n"));
}

TEST(Expfmt, MergesFamiliesAcrossBatchesAndSortsByName) {
  MetricBatch a, b;
  a.AddGauge("z", "z help", Labels{{"x", "1"}}, 1);
  b.AddGauge("z", "ignored", Labels{{"x", "2"}}, 2);
  b.AddGauge("a", "a help", {}, 3);
  std::string out;
  Render({&a, &b}, Format::kText004, &out);
  EXPECT_EQ(out, "# HELP a a help\n# TYPE a gauge\na 3\n# HELP z z help\n# TYPE z gauge\nz{x=\"1\"} 1\nz{x=\"2\"} 2\n");
}

TEST(Expfmt, Values) {
  std::string s;
  AppendValue(INFINITY, &s);
  s += ' ';
  AppendValue(-INFINITY, &s);
  s += ' ';
  AppendValue(1e21, &s);
  s += ' ';
  AppendValue(0.1, &s);
  s += ' ';
  AppendValue(25276502016, &s);
  EXPECT_EQ(s, "+Inf -Inf 1e+21 0.1 25276502016");
}

TEST(Expfmt, Negotiate) {
  EXPECT_EQ(Negotiate(""), Format::kText004);
  EXPECT_EQ(Negotiate("text/plain;version=0.0.4;q=0.5,*/*;q=0.1"), Format::kText004);
  EXPECT_EQ(Negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                      "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            Format::kOpenMetrics100);
}

}  // namespace
}  // namespace vigil::expfmt
