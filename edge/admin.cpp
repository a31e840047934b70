#include "edge/admin.h"

namespace pocket::edge {

HttpHandler makeAdminHandler(util::MetricsRegistry& metrics, ReadinessProbe ready) {
  return [&metrics, ready = std::move(ready)](const RequestContext&, HttpRequest&& request,
                                             Responder responder) {
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      return responder.send(textResponse(http::status::method_not_allowed, "GET only\n"));
    }
    if (target == "/metrics") {
      HttpResponse response(http::status::ok, request.version());
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response.body() = metrics.render();
      return responder.send(std::move(response));
    }
    if (target == "/healthz") return responder.send(textResponse(http::status::ok, "ok\n"));
    if (target == "/readyz") {
      std::string why = ready ? ready() : std::string();
      if (why.empty()) return responder.send(textResponse(http::status::ok, "ready\n"));
      return responder.send(textResponse(http::status::service_unavailable, "not ready: " + why + "\n"));
    }
    responder.send(textResponse(http::status::not_found, "routes: /metrics /healthz /readyz\n"));
  };
}

}  // namespace pocket::edge
