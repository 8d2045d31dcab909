// Fuzzes the exposition parser (expfmt/parse.h). The first input byte picks
// the format: even is text 0.0.4, odd is OpenMetrics 1.0 (so seed files start
// with 't' or 'o'). The rest is parsed to the end; every entry is checked
// against the parser's contract. A second parser, told to expect each sample's
// series again (TextParser::Expect, as the import does), must return the same.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "base/labels.h"
#include "expfmt/parse.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using vigil::expfmt::Format;
  using vigil::expfmt::TextParser;
  const Format format = (data[0] & 1) ? Format::kOpenMetrics100 : Format::kText004;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t lines = 1;
  for (char c : text) lines += c == '\n';

  TextParser p(text, format);
  TextParser hinted(text, format);
  std::string expected_name, expected_text;
  std::vector<vigil::Label> expected_labels;
  // Every entry but the last consumes at least one byte.
  size_t budget = text.size() + 2;
  bool saw_eof = false;
  for (;;) {
    Check(budget-- > 0);
    TextParser::Entry e = p.Next();
    Check(hinted.Next() == e);
    Check(hinted.status().message() == p.status().message());
    if (e == TextParser::kSample) {
      Check(hinted.name() == p.name());
      Check(std::equal(p.label_list().begin(), p.label_list().end(), hinted.label_list().begin(),
                       hinted.label_list().end()));
      const double a = p.value(), b = hinted.value();
      Check(std::memcmp(&a, &b, sizeof a) == 0);
      Check(hinted.timestamp_ms() == p.timestamp_ms());
      Check(hinted.label_text() == p.label_text());
      std::vector<vigil::Label> labels(hinted.label_list().begin(), hinted.label_list().end());
      expected_labels.swap(labels);
      expected_name = hinted.name();
      expected_text = hinted.label_text();
      hinted.Expect(expected_name, expected_text, expected_labels);
    }
    Check(p.line() <= lines + 1);
    if (e == TextParser::kEnd) {
      Check(p.status().ok());
      Check(format == Format::kText004 || saw_eof);
      Check(p.Next() == TextParser::kEnd);
      break;
    }
    if (e == TextParser::kError) {
      Check(!p.status().ok());
      Check(p.status().message().starts_with("line "));
      Check(p.Next() == TextParser::kError);
      break;
    }
    Check(!saw_eof);
    switch (e) {
      case TextParser::kSample: {
        Check(vigil::IsValidMetricName(p.name()));
        auto list = p.label_list();
        Check(list.size() == p.labels().size());
        for (size_t i = 0; i < list.size(); ++i) {
          Check(vigil::IsValidLabelName(list[i].name));
          Check(list[i].name != "__name__");
          Check(!list[i].value.empty());
          if (i > 0) Check(list[i - 1].name < list[i].name);
          Check(p.labels().list()[i] == list[i]);
        }
        break;
      }
      case TextParser::kType:
      case TextParser::kHelp: Check(vigil::IsValidMetricName(p.name())); break;
      case TextParser::kUnit:
        Check(format == Format::kOpenMetrics100);
        Check(p.text().empty() || p.name().ends_with(p.text()));
        break;
      case TextParser::kEof:
        Check(format == Format::kOpenMetrics100);
        saw_eof = true;
        break;
      default: break;
    }
  }
  return 0;
}
