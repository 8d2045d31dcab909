#include "incidents/alert_quality.h"

#include <gtest/gtest.h>

namespace vigil::incidents {
namespace {

constexpr TimestampMs kBase = 1'700'000'000'000;  // times below are minutes after this
constexpr TimestampMs M(int64_t minutes) { return kBase + minutes * 60'000; }
constexpr int64_t kNever = -1'000'000;  // not fired (a pending alert that cleared), or not resolved yet

rules::AlertEpisode Ep(const std::string& rule, Labels labels, int64_t for_minutes, int64_t active, int64_t fired,
                       int64_t resolved) {
  rules::AlertEpisode e;
  e.group_key = "f.yml;g";
  e.rule = rule;
  labels.Set("alertname", rule);
  e.severity = std::string(labels.Get("severity"));
  e.labels = std::move(labels);
  e.for_duration = Duration(for_minutes * 60'000);
  e.active_at = M(active);
  e.fired_at = fired == kNever ? 0 : M(fired);
  e.resolved_at = resolved == kNever ? 0 : M(resolved);
  return e;
}

alert::Silence Sil(const std::string& matchers, int64_t from, int64_t to) {
  auto m = alert::ParseMatchers(matchers);
  EXPECT_TRUE(m.ok()) << matchers;
  alert::Silence s;
  s.matchers = *m;
  s.starts_at = M(from);
  s.ends_at = M(to);
  return s;
}

// A recorded history of 21 episodes of four rules over [0m, 1000m), counted by
// hand in the comments. Windows: HighLatency for 5m -> 10m; ServiceDown for 0
// -> 5m; MemoryLow for 10m -> 20m; CertExpiring for 1h -> 120m.
AlertQualityInput RecordedHistory() {
  const Labels a{{"instance", "a"}, {"severity", "warning"}};
  const Labels b{{"instance", "b"}, {"severity", "warning"}};
  const Labels svc{{"service", "bitcoind"}, {"severity", "critical"}};
  const Labels mem{{"instance", "a"}, {"severity", "warning"}};
  const Labels cert{{"severity", "low"}};
  AlertQualityInput in;
  in.from_ms = M(0);
  in.to_ms = M(1000);
  in.episodes = {
      // HighLatency{instance=a}
      Ep("HighLatency", a, 5, 0, 5, 10),          // fires 5m: self-resolved
      Ep("HighLatency", a, 5, 15, 20, 25),        // again 10m after resolving: flap; 5m: self-resolved
      Ep("HighLatency", a, 5, 100, 105, 160),     // 55m: a real one
      Ep("HighLatency", a, 5, 165, 170, 172),     // 10m after 160: flap; 2m: self-resolved
      Ep("HighLatency", a, 5, 200, kNever, 203),  // pending that cleared: not counted
      // HighLatency{instance=b}: a different alert, so 305 is no flap of a's 172
      Ep("HighLatency", b, 5, 300, 305, 308),  // 3m: self-resolved
      Ep("HighLatency", b, 5, 310, 315, 330),  // 7m after 308: flap; 15m: not self-resolved
      // ServiceDown{service=bitcoind}, for 0
      Ep("ServiceDown", svc, 0, 50, 50, 52),        // 2m, but a restart of bitcoind at 51: acted on
      Ep("ServiceDown", svc, 0, 60, 60, 63),        // 8m after 52: no flap; 3m, no action: self-resolved
      Ep("ServiceDown", svc, 0, 66, 66, 80),        // 3m after 63: flap; 14m
      Ep("ServiceDown", svc, 0, 400, 400, 401),     // 1m, but silenced 399-420
      Ep("ServiceDown", svc, 0, 500, 500, kNever),  // still firing; a restart at 700: acted on
      // MemoryLow{instance=a}, for 10m
      Ep("MemoryLow", mem, 10, -30, -20, -5),       // before the range: not counted, but 15m before...
      Ep("MemoryLow", mem, 10, 0, 10, 40),          // ...this one fires: flap; 30m
      Ep("MemoryLow", mem, 10, 50, kNever, 55),     // pending that cleared
      Ep("MemoryLow", mem, 10, 60, kNever, 61),     // pending that cleared
      Ep("MemoryLow", mem, 10, 900, 910, 925),      // 15m: self-resolved (the silence 930-940 came after)
      Ep("MemoryLow", mem, 10, 980, 990, 1005),     // fired in range, resolved after it: 15m, self-resolved
      Ep("MemoryLow", mem, 10, 995, 1005, kNever),  // fired after the range: not counted
      // CertExpiring, for 1h
      Ep("CertExpiring", cert, 60, 100, 160, 300),  // 140m; silenced 150-200
      Ep("CertExpiring", cert, 60, 400, 460, 470),  // 10m, but silenced 465-466 by a regex
  };
  in.silences = {
      Sil(R"({service="bitcoind"})", 399, 420),
      Sil(R"({alertname="MemoryLow"})", 930, 940),
      Sil(R"({alertname="CertExpiring"})", 150, 200),
      Sil(R"({alertname=~"Cert.*"})", 465, 466),
  };
  in.actions = {{"bitcoind", M(51)}, {"bitcoind", M(700)}, {"titan", M(5)}};
  // First delivered notifications, by episode index above.
  auto notified = [&](size_t i, TimestampMs after_ms) -> FirstNotification {
    const rules::AlertEpisode& e = in.episodes.at(i);
    return {alert::Fingerprint(e.labels), e.fired_at, e.fired_at + after_ms};
  };
  in.notifications = {
      notified(0, 30'000),
      notified(1, 10'000),
      notified(2, 50'000),  // HighLatency{a}: 30 s, 10 s, 50 s
      notified(7, 2'000),
      notified(8, 4'000),
      notified(9, 1'000),   // ServiceDown: 2 s, 4 s, 1 s,
      notified(11, 9'000),  // and 9 s for the one still firing
      {alert::Fingerprint(in.episodes[19].labels), in.episodes[19].active_at, M(170)},  // not its firedAt: no match
      {"0123456789abcdef", M(50), M(51)},                                               // no such alert
  };
  return in;
}

TEST(AlertQualityTest, HandCountedHistory) {
  AlertQualityInput in = RecordedHistory();
  ASSERT_EQ(in.episodes.size(), 21u);
  AlertQualityReport r = ComputeAlertQuality(in);
  // Noisiest first: self-resolved 4, 2, 1, 0.
  ASSERT_EQ(r.rules.size(), 4u);
  const RuleQuality& hl = r.rules[0];
  EXPECT_EQ(hl.rule, "HighLatency");
  EXPECT_EQ(hl.severity, "warning");
  EXPECT_EQ(hl.fired, 6);  // 5, 20, 105, 170 (a) + 305, 315 (b)
  EXPECT_EQ(hl.resolved, 6);
  EXPECT_EQ(hl.flaps, 3);          // 20, 170, 315
  EXPECT_EQ(hl.self_resolved, 4);  // 5, 20, 170, 305
  EXPECT_EQ(hl.silenced, 0);
  EXPECT_EQ(hl.acted_on, 0);                                                       // titan's action: no alert of titan
  EXPECT_DOUBLE_EQ(hl.mean_firing_seconds, (5 + 5 + 55 + 2 + 3 + 15) * 60.0 / 6);  // 850 s
  EXPECT_DOUBLE_EQ(hl.self_resolved_share(), 4.0 / 6);
  EXPECT_EQ(hl.notified, 3);                     // 10, 30, 50 s
  EXPECT_DOUBLE_EQ(hl.mean_notify_seconds, 30);  // 90 / 3
  EXPECT_DOUBLE_EQ(hl.median_notify_seconds, 30);
  EXPECT_DOUBLE_EQ(hl.max_notify_seconds, 50);

  const RuleQuality& mem = r.rules[1];
  EXPECT_EQ(mem.rule, "MemoryLow");
  EXPECT_EQ(mem.fired, 3);  // 10, 910, 990
  EXPECT_EQ(mem.resolved, 3);
  EXPECT_EQ(mem.flaps, 1);          // 10, after -5
  EXPECT_EQ(mem.self_resolved, 2);  // 910, 990
  EXPECT_EQ(mem.silenced, 0);
  EXPECT_DOUBLE_EQ(mem.mean_firing_seconds, (30 + 15 + 15) * 60.0 / 3);  // 1200 s

  const RuleQuality& sd = r.rules[2];
  EXPECT_EQ(sd.rule, "ServiceDown");
  EXPECT_EQ(sd.severity, "critical");
  EXPECT_EQ(sd.fired, 5);                                                 // 50, 60, 66, 400, 500
  EXPECT_EQ(sd.resolved, 4);                                              // not 500
  EXPECT_EQ(sd.flaps, 1);                                                 // 66
  EXPECT_EQ(sd.self_resolved, 1);                                         // 60
  EXPECT_EQ(sd.silenced, 1);                                              // 400
  EXPECT_EQ(sd.acted_on, 2);                                              // 50, 500
  EXPECT_DOUBLE_EQ(sd.mean_firing_seconds, (2 + 3 + 14 + 1) * 60.0 / 4);  // 300 s
  EXPECT_DOUBLE_EQ(sd.silenced_share(), 1.0 / 5);
  EXPECT_EQ(sd.notified, 4);                      // 1, 2, 4, 9 s
  EXPECT_DOUBLE_EQ(sd.mean_notify_seconds, 4);    // 16 / 4
  EXPECT_DOUBLE_EQ(sd.median_notify_seconds, 3);  // (2 + 4) / 2
  EXPECT_DOUBLE_EQ(sd.max_notify_seconds, 9);

  const RuleQuality& cert = r.rules[3];
  EXPECT_EQ(cert.rule, "CertExpiring");
  EXPECT_EQ(cert.fired, 2);
  EXPECT_EQ(cert.flaps, 0);  // 460 is 160m after 300: outside 120m
  EXPECT_EQ(cert.self_resolved, 0);
  EXPECT_EQ(cert.silenced, 2);
  EXPECT_DOUBLE_EQ(cert.mean_firing_seconds, (140 + 10) * 60.0 / 2);  // 4500 s
  EXPECT_EQ(cert.notified, 0);                                        // its one delivery names activeAt, not firedAt
  EXPECT_EQ(mem.notified, 0);

  EXPECT_EQ(r.fired, 16);         // 6 + 3 + 5 + 2
  EXPECT_EQ(r.self_resolved, 7);  // 4 + 2 + 1 + 0
  EXPECT_DOUBLE_EQ(r.false_positive_share(), 7.0 / 16);
}

TEST(AlertQualityTest, RangeLimitsWhatCountsButNotFlapHistory) {
  AlertQualityInput in = RecordedHistory();
  in.from_ms = M(168);  // only HighLatency's 170, 305, 315 remain of that rule
  in.to_ms = M(320);
  AlertQualityReport r = ComputeAlertQuality(in);
  // ServiceDown fired at 50-66 and 400+, CertExpiring at 160 and 460: none inside.
  ASSERT_EQ(r.rules.size(), 1u);
  EXPECT_EQ(r.rules[0].rule, "HighLatency");
  EXPECT_EQ(r.rules[0].fired, 3);
  EXPECT_EQ(r.rules[0].flaps, 2);  // 170 (after 160, itself outside the range) and 315
  EXPECT_EQ(r.fired, 3);
}

TEST(AlertQualityTest, WindowIsTwiceForOrFiveMinutes) {
  EXPECT_EQ(AlertQualityWindow(Duration(0)), Duration(5 * 60'000));
  EXPECT_EQ(AlertQualityWindow(Duration(90'000)), Duration(180'000));
}

TEST(AlertQualityTest, NothingFiredIsZeroNotNaN) {
  AlertQualityInput in;
  in.from_ms = M(0);
  in.to_ms = M(10);
  in.episodes = {Ep("X", Labels{}, 5, 1, kNever, 2)};
  AlertQualityReport r = ComputeAlertQuality(in);
  EXPECT_TRUE(r.rules.empty());
  EXPECT_EQ(r.false_positive_share(), 0);
}

}  // namespace
}  // namespace vigil::incidents
