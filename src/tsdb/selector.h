// Series selectors as Prometheus writes them: `up`, `up{job="node"}`,
// `{__name__=~"node_.*",mode!="idle"}`. Used by tools and /api/v1/series.
#pragma once

#include <string_view>
#include <vector>

#include "tsdb/matcher.h"

namespace vigil::tsdb {

// Errors give the 1-based column and the reason.
Result<std::vector<Matcher>> ParseSeriesSelector(std::string_view text);

}  // namespace vigil::tsdb
