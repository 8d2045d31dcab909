// POST /api/v2/alerts as Alertmanager takes it: defaults, merging, expiry
// on a FakeClock, and a 400 naming the index and field of each bad alert.
#include "notify/ingest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vigil::notify {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr TimestampMs kNow = 1795435200000;  // 2026-11-23T12:00:00Z

struct Recorder {
  std::vector<AlertUpdate> got;
  AlertIngest::Sink sink() {
    return [this](std::vector<AlertUpdate> a) {
      for (auto& u : a) got.push_back(std::move(u));
    };
  }
};

TEST(AlertIngest, FiringAlertGoesOnAndExpiresAtItsTimeout) {
  FakeClock clock(kNow);
  Recorder r;
  AlertIngest in(r.sink(), &clock);
  Status st = in.Post(R"([{"labels":{"alertname":"Down","service":"web","empty":""},
                           "annotations":{"summary":"web is down"},
                           "generatorURL":"http://prom:9090/graph"}])");
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_THAT(r.got, SizeIs(1));
  EXPECT_EQ(r.got[0].labels, (Labels{{"alertname", "Down"}, {"service", "web"}}));  // the empty label dropped
  EXPECT_EQ(r.got[0].annotations.Get("summary"), "web is down");
  EXPECT_EQ(r.got[0].starts_at, kNow);
  EXPECT_EQ(r.got[0].ends_at, 0);  // firing
  EXPECT_EQ(r.got[0].generator_url, "http://prom:9090/graph");
  EXPECT_EQ(in.Snapshot().begin()->second.ends_at, kNow + 5 * 60 * 1000);

  clock.Advance(Duration(4 * 60 * 1000));
  EXPECT_EQ(in.ExpireDue(), 0u);
  // Re-posted (as Prometheus does every evaluation): the timeout moves on.
  ASSERT_TRUE(in.Post(R"([{"labels":{"alertname":"Down","service":"web"}}])").ok());
  ASSERT_THAT(r.got, SizeIs(2));
  EXPECT_EQ(r.got[1].starts_at, kNow);  // the earliest start is kept
  clock.Advance(Duration(4 * 60 * 1000));
  EXPECT_EQ(in.ExpireDue(), 0u);
  clock.Advance(Duration(60 * 1000));
  EXPECT_EQ(in.ExpireDue(), 1u);  // not re-posted for resolve_timeout: resolved
  ASSERT_THAT(r.got, SizeIs(3));
  EXPECT_EQ(r.got[2].ends_at, kNow + 9 * 60 * 1000);
  EXPECT_EQ(in.active(), 0u);
}

TEST(AlertIngest, ExplicitEndsAtRulesAndPastEndResolves) {
  FakeClock clock(kNow);
  Recorder r;
  AlertIngest in(r.sink(), &clock);
  // Prometheus's shape: endsAt a few resend intervals ahead.
  ASSERT_TRUE(in.Post(R"([{"labels":{"alertname":"A"},"startsAt":"2026-11-23T11:59:00.5Z",
                           "endsAt":"2026-11-23T12:04:00Z"}])")
                  .ok());
  ASSERT_THAT(r.got, SizeIs(1));
  EXPECT_EQ(r.got[0].starts_at, kNow - 59500);
  // A re-post without endsAt does not cut an explicit later end short.
  ASSERT_TRUE(in.Post(R"([{"labels":{"alertname":"A"}}])").ok());
  clock.Advance(Duration(3 * 60 * 1000 + 59000));
  EXPECT_EQ(in.ExpireDue(), 0u);
  // Posted with an end in the past: resolved now, at that time.
  ASSERT_TRUE(in.Post(R"([{"labels":{"alertname":"A"},"startsAt":"2026-11-23T11:59:00Z",
                           "endsAt":"2026-11-23T12:03:00Z"}])")
                  .ok());
  ASSERT_THAT(r.got, SizeIs(3));
  EXPECT_EQ(r.got[2].ends_at, kNow + 3 * 60 * 1000);
  EXPECT_EQ(in.active(), 0u);
  // Resolved again (Prometheus repeats resolutions): nothing left to resolve.
  ASSERT_TRUE(in.Post(R"([{"labels":{"alertname":"A"},"endsAt":"2026-11-23T12:03:00Z"}])").ok());
  EXPECT_THAT(r.got, SizeIs(3));
}

TEST(AlertIngest, BadRequestsNameTheIndexAndField) {
  FakeClock clock(kNow);
  Recorder r;
  AlertIngest in(r.sink(), &clock);
  Status st = in.Post(R"([{"labels":{"alertname":"ok"}},
                          {"annotations":{"a":"b"}},
                          {"labels":{}},
                          {"labels":{"1bad":"x"}},
                          {"labels":{"a":"b"},"startsAt":"2026-11-23T12:00:00Z","endsAt":"2026-11-23T11:00:00Z"},
                          {"labels":{"a":"b"},"startsAt":"noon"},
                          {"labels":{"a":1}},
                          "x"])");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("alerts[1]: labels: required"));
  EXPECT_THAT(st.message(), HasSubstr("alerts[2]: labels: at least one label pair"));
  EXPECT_THAT(st.message(), HasSubstr("alerts[3]: labels: invalid name \"1bad\""));
  EXPECT_THAT(st.message(), HasSubstr("alerts[4]: endsAt 2026-11-23T11:00:00.000Z is before startsAt"));
  EXPECT_THAT(st.message(), HasSubstr("alerts[5]: startsAt: invalid time"));
  EXPECT_THAT(st.message(), HasSubstr("alerts[6]: labels.a: the value must be a string"));
  EXPECT_THAT(st.message(), HasSubstr("alerts[7]: must be an object"));
  EXPECT_THAT(st.message(), Not(HasSubstr("alerts[0]")));
  // As Alertmanager, the valid one is taken all the same.
  ASSERT_THAT(r.got, SizeIs(1));
  EXPECT_EQ(r.got[0].labels.Get("alertname"), "ok");

  Status bad = in.Post(R"([{"labels":{"password":"hunter2"}, oops])");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.message(), HasSubstr("malformed JSON at byte"));
  EXPECT_THAT(bad.message(), Not(HasSubstr("hunter2")));  // the body is never echoed
  EXPECT_THAT(in.Post(R"({"labels":{"a":"b"}})").message(), HasSubstr("must be a JSON array"));
  EXPECT_THAT(in.Post("[5E888888888888]").message(), HasSubstr("out of range"));

  // Many bad alerts: ten are named, the rest counted.
  std::string many = "[";
  for (int i = 0; i < 1000; ++i) many += std::string(i ? "," : "") + R"({"labels":{}})";
  Status lots = in.Post(many + "]");
  EXPECT_THAT(lots.message(), HasSubstr("alerts[9]: labels"));
  EXPECT_THAT(lots.message(), Not(HasSubstr("alerts[10]")));
  EXPECT_THAT(lots.message(), HasSubstr("and 990 more invalid alerts"));
}

}  // namespace
}  // namespace vigil::notify
