// Exposition text read back into a MetricBatch: what the textfile collector
// and the scraper of other /metrics endpoints share.
#pragma once

#include <functional>
#include <string_view>

#include "base/labels.h"
#include "base/metrics.h"
#include "base/status.h"
#include "expfmt/expfmt.h"

namespace vigil::expfmt {

struct ToBatchOptions {
  // node_exporter's textfile collector refuses client-side timestamps; a
  // scrape ignores them (vigil stamps every batch with its collection time).
  bool reject_timestamps = false;
  // Adjusts each sample's labels (target labels, conflict renaming); may be null.
  std::function<void(Labels&)> relabel;
  // Stops after this many samples with an error; 0: no limit.
  size_t sample_limit = 0;
};

// Parses `body` completely and only then adds its samples to `out`, so a body
// with an error adds nothing. Histogram and summary series keep their
// _bucket/_sum/_count names and become untyped; counters and gauges keep
// their type and help. Returns the parser's "line L:C: reason" on error.
// `added` (may be null) receives the number of samples added.
Status AppendExposition(std::string_view body, Format format, const ToBatchOptions& options, MetricBatch& out,
                        size_t* added = nullptr);

}  // namespace vigil::expfmt
