// Prometheus's federation endpoint, GET/POST /federate: the latest sample of
// every series the match[] selectors select, in text exposition 0.0.4.
#pragma once

#include "base/labels.h"
#include "base/time.h"
#include "http/server.h"
#include "promql/engine.h"

namespace vigil::api {

// Answers /federate at `now`: for each series at least one match[] selects,
// its newest sample in [now - lookback, now] unless that sample is a
// staleness marker, grouped by metric name under `# TYPE name untyped`, with
// the sample's own timestamp and the external labels the series lacks. No
// match[] or a bad one: 400 naming the parameter.
http::Response Federate(const http::Request& request, const promql::QuerierFactory& storage,
                        const Labels& external_labels, TimestampMs now, Duration lookback);

}  // namespace vigil::api
