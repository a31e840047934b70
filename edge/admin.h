#pragma once
// The admin listener's routes: `/metrics` (Prometheus text), `/healthz` (the process answers) and
// `/readyz` (the link delivered chain state and is connected: relays can be validated).
//
// Threading: the handler is called on the admin loop; `ready` must be thread-safe.

#include <functional>
#include <string>

#include "common/util/metrics.h"
#include "edge/http_server.h"

namespace pocket::edge {

// Returns an empty string when ready, else why not.
using ReadinessProbe = std::function<std::string()>;

HttpHandler makeAdminHandler(util::MetricsRegistry& metrics, ReadinessProbe ready);

}  // namespace pocket::edge
