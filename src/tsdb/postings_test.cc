#include "tsdb/postings.h"

#include <gtest/gtest.h>

namespace vigil::tsdb {
namespace {

Matcher M(Matcher::Type t, const char* n, const char* v) { return *Matcher::Make(t, n, v); }

TEST(Postings, CandidatesIntersectNarrowingMatchers) {
  PostingsIndex p;
  p.Add(Labels{{"__name__", "up"}, {"job", "a"}}, 1);
  p.Add(Labels{{"__name__", "up"}, {"job", "b"}}, 2);
  p.Add(Labels{{"__name__", "x"}, {"job", "a"}}, 3);
  auto c = p.Candidates({M(Matcher::Type::kEqual, "__name__", "up"), M(Matcher::Type::kRegexMatch, "job", "a|c")});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, (std::vector<uint64_t>{1}));
  // Matchers that match the empty string cannot narrow: the caller scans.
  EXPECT_FALSE(p.Candidates({M(Matcher::Type::kNotEqual, "job", "a")}).has_value());
  EXPECT_TRUE(p.Candidates({M(Matcher::Type::kEqual, "nope", "1")})->empty());
  p.Remove(Labels{{"__name__", "up"}, {"job", "a"}}, 1);
  EXPECT_EQ(*p.Candidates({M(Matcher::Type::kEqual, "__name__", "up")}), (std::vector<uint64_t>{2}));
  EXPECT_EQ(p.Values("job"), (std::vector<std::string>{"a", "b"}));
  p.Remove(Labels{{"__name__", "x"}, {"job", "a"}}, 3);
  EXPECT_EQ(p.Values("job"), (std::vector<std::string>{"b"}));
  EXPECT_EQ(p.Names(), (std::vector<std::string>{"__name__", "job"}));
}

}  // namespace
}  // namespace vigil::tsdb
