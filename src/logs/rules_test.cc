#include "logs/rules.h"

#include <gtest/gtest.h>

#include "logs/state.h"

namespace vigil::logs {
namespace {

RuleSet ValidatorRules() {
  RuleSet r;
  r.counters = {{"errors", "ERROR"}, {"warnings", "WARN"}};
  r.gauges = {{"slot", R"(Processing slot (\d+))"}};
  r.states = {{"titan_connected", "Connected to server at titan", "Detected disconnection"}};
  return r;
}

TEST(LogsRules, CountersGaugesAndStates) {
  auto m = LineMatcher::Compile(ValidatorRules());
  ASSERT_TRUE(m.ok()) << m.status().message();
  LineMatcher& lm = **m;
  EXPECT_FALSE(lm.Apply("ERROR boom", 1000));
  EXPECT_FALSE(lm.Apply("ERROR WARN both", 1000));
  EXPECT_FALSE(lm.Apply("Processing slot 41", 2000));
  EXPECT_FALSE(lm.Apply("Processing slot 42", 3000));
  EXPECT_TRUE(lm.Apply("Connected to server at titan-public-tcp.example:3030", 4000));
  EXPECT_FALSE(lm.Apply("Connected to server at titan-public-tcp.example:3030", 5000));  // no change
  const RuleValues& v = lm.values();
  EXPECT_EQ(v.lines, 6u);
  EXPECT_EQ(v.counters[0].count, 2u);
  EXPECT_EQ(v.counters[1].count, 1u);
  ASSERT_TRUE(v.gauges[0].seen);
  EXPECT_EQ(v.gauges[0].value, 42);
  EXPECT_EQ(v.gauges[0].time_ms, 3000);
  EXPECT_EQ(v.states[0].value, 1);
  EXPECT_EQ(v.states[0].changed_ms, 4000);
  EXPECT_TRUE(lm.Apply("Detected disconnection", 6000));
  EXPECT_EQ(lm.values().states[0].value, 0);
  EXPECT_EQ(lm.values().states[0].changed_ms, 6000);
}

TEST(LogsRules, UnknownUntilSeenAndOffWinsOverOn) {
  auto m = LineMatcher::Compile(ValidatorRules());
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE((*m)->Apply("nothing to see", 1));
  EXPECT_FALSE((*m)->values().gauges[0].seen);
  EXPECT_EQ((*m)->values().states[0].value, -1);
  EXPECT_TRUE((*m)->Apply("Connected to server at titan; Detected disconnection", 2));
  EXPECT_EQ((*m)->values().states[0].value, 0);
}

TEST(LogsRules, CaptureThatIsNotANumberLeavesTheGauge) {
  RuleSet r;
  r.gauges = {{"height", R"(height=(\S+))"}};
  auto m = LineMatcher::Compile(r);
  ASSERT_TRUE(m.ok());
  (*m)->Apply("height=12.5", 1);
  (*m)->Apply("height=abc", 2);
  (*m)->Apply("height=inf", 3);
  (*m)->Apply("height=1e999", 4);
  EXPECT_EQ((*m)->values().gauges[0].value, 12.5);
  EXPECT_EQ((*m)->values().gauges[0].time_ms, 1);
  (*m)->Apply("height=-3", 5);
  EXPECT_EQ((*m)->values().gauges[0].value, -3);
}

TEST(LogsRules, CompileErrorsNameTheRuleAndField) {
  RuleSet r;
  r.counters = {{"errors", "ERROR("}};
  auto m = LineMatcher::Compile(r);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("counters[errors].match"), std::string::npos) << m.status().message();
  r = {};
  r.gauges = {{"slot", "slot \\d+"}};
  m = LineMatcher::Compile(r);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("gauges[slot].match: needs exactly one capture group"), std::string::npos);
  r = {};
  r.states = {{"up", "on", ""}};
  m = LineMatcher::Compile(r);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("states[up].off"), std::string::npos);
}

TEST(LogsRules, BinaryBytesAreMatchedNotFeared) {
  auto m = LineMatcher::Compile(ValidatorRules());
  ASSERT_TRUE(m.ok());
  std::string garbage(
      "\xff\xfe\0\x01"
      "ERROR"
      "\xc3(\x80",
      12);
  (*m)->Apply(garbage, 1);
  (*m)->Apply(std::string_view("\0\0\0", 3), 1);
  EXPECT_EQ((*m)->values().counters[0].count, 1u);
  EXPECT_EQ((*m)->values().lines, 2u);
}

TEST(LogsRules, RestoreKeepsValuesOfRulesStillConfigured) {
  RuleValues saved;
  saved.lines = 10;
  saved.counters = {{"errors", 7}, {"gone", 3}};
  saved.gauges = {{"slot", true, 99, 5000}};
  saved.states = {{"titan_connected", 1, 6000}};
  auto m = LineMatcher::Compile(ValidatorRules());
  ASSERT_TRUE(m.ok());
  (*m)->Restore(saved);
  const RuleValues& v = (*m)->values();
  EXPECT_EQ(v.lines, 10u);
  EXPECT_EQ(v.counters.size(), 2u);
  EXPECT_EQ(v.counters[0].count, 7u);  // errors
  EXPECT_EQ(v.counters[1].count, 0u);  // warnings: new
  EXPECT_EQ(v.gauges[0].value, 99);
  EXPECT_EQ(v.states[0].value, 1);
  EXPECT_EQ(v.states[0].changed_ms, 6000);
}

TEST(LogsRules, ParseCapturedNumber) {
  double v = 0;
  EXPECT_TRUE(ParseCapturedNumber("123", &v));
  EXPECT_EQ(v, 123);
  EXPECT_TRUE(ParseCapturedNumber(" +4.5e2 ", &v));
  EXPECT_EQ(v, 450);
  EXPECT_FALSE(ParseCapturedNumber("", &v));
  EXPECT_FALSE(ParseCapturedNumber("12abc", &v));
  EXPECT_FALSE(ParseCapturedNumber("nan", &v));
  EXPECT_FALSE(ParseCapturedNumber("0x10", &v));
}

TEST(LogsState, RoundTrip) {
  LogState s;
  s.source = "/var/log/with space/%odd\n.log";
  s.has_position = true;
  s.position = {2049, 1234567, 4096, 1024, 0xdeadbeefcafef00dULL};
  s.journal_cursor = "s=abc;i=1f";
  s.bytes = 4096;
  s.rotations = 2;
  s.truncations = 1;
  s.values.lines = 17;
  s.values.long_lines = 1;
  s.values.counters = {{"errors", 3}};
  s.values.gauges = {{"slot", true, 123456789.25, 1700000000123}, {"unseen", false, 0, 0}};
  s.values.states = {{"titan_connected", 0, 1700000000456}, {"unknown", -1, 0}};
  auto d = DecodeState(EncodeState(s));
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->source, s.source);
  EXPECT_EQ(d->position, s.position);
  EXPECT_EQ(d->journal_cursor, s.journal_cursor);
  EXPECT_EQ(d->bytes, 4096u);
  EXPECT_EQ(d->rotations, 2u);
  EXPECT_EQ(d->truncations, 1u);
  EXPECT_EQ(d->values.lines, 17u);
  EXPECT_EQ(d->values.long_lines, 1u);
  ASSERT_EQ(d->values.counters.size(), 1u);
  EXPECT_EQ(d->values.counters[0].count, 3u);
  ASSERT_EQ(d->values.gauges.size(), 1u);  // unseen gauges are not saved
  EXPECT_EQ(d->values.gauges[0].value, 123456789.25);
  EXPECT_EQ(d->values.gauges[0].time_ms, 1700000000123);
  ASSERT_EQ(d->values.states.size(), 1u);
  EXPECT_EQ(d->values.states[0].changed_ms, 1700000000456);
}

TEST(LogsState, RejectsDamage) {
  LogState s;
  s.source = "/x.log";
  std::string good = EncodeState(s);
  EXPECT_TRUE(DecodeState(good).ok());
  EXPECT_FALSE(DecodeState("").ok());
  EXPECT_FALSE(DecodeState(good.substr(0, good.size() - 4)).ok());  // no end marker
  EXPECT_FALSE(DecodeState("vigil-log-state 2\nend\n").ok());
  EXPECT_FALSE(DecodeState("vigil-log-state 1\nsource %zz\nend\n").ok());
  EXPECT_FALSE(DecodeState("vigil-log-state 1\nlines -1\nend\n").ok());
  EXPECT_FALSE(DecodeState("vigil-log-state 1\nstate x 2 0\nend\n").ok());
  EXPECT_FALSE(DecodeState("vigil-log-state 1\nend\nlines 1\n").ok());
  auto err = DecodeState("vigil-log-state 1\nbogus 1\nend\n");
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.status().message().find("line 2"), std::string::npos);
}

}  // namespace
}  // namespace vigil::logs
