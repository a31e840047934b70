#include "session-manager/status.h"

#include <algorithm>
#include <map>
#include <ostream>

#include <fmt/format.h>

#include "common/util/hex.h"

namespace pocket::sm {

nlohmann::json statusDocument(const StatusSources& sources) {
  nlohmann::json doc;
  auto head = sources.head();
  doc["chain"] = {{"mode", sources.chainMode},
                  {"height", head ? head->height : 0},
                  {"blockHash", head ? util::toHex(head->blockHash) : std::string()},
                  {"headAgeMs", sources.headAgeMs()}};
  if (sources.nodeHealth) {
    auto [healthy, summary] = sources.nodeHealth();
    doc["chain"]["nodeHealthy"] = healthy;
    doc["chain"]["node"] = summary;
  }
  doc["lifecycle"] = sources.lifecycle ? std::string("on") : "off: " + sources.lifecycleOff;
  std::map<std::string, SessionRecord> records;
  if (sources.lifecycle) {
    for (auto& r : sources.lifecycle()) records.emplace(r.tree, std::move(r));
  }
  std::int64_t height = head ? head->height : 0;
  nlohmann::json sessions = nlohmann::json::array();
  for (const auto& t : sources.trees()) {
    std::string state = height >= t.info.claimWindowOpen ? "claim_window_open" : "open";
    auto record = records.find(treeKey(t.info.supplierOperatorAddress, t.info.header.sessionId));
    if (record != records.end()) state = record->second.state;
    sessions.push_back({{"supplier", t.info.supplierOperatorAddress},
                        {"application", t.info.header.applicationAddress},
                        {"service", t.info.header.serviceId},
                        {"sessionId", t.info.header.sessionId},
                        {"start", t.info.header.sessionStartBlockHeight},
                        {"end", t.info.header.sessionEndBlockHeight},
                        {"relays", t.relays},
                        {"computeUnits", t.computeUnits},
                        {"claimWindowOpen", t.info.claimWindowOpen},
                        {"proofWindowClose", t.info.proofWindowClose},
                        {"committedRoot", t.committedRootHex},
                        {"state", state}});
    if (record != records.end()) {
      const SessionRecord& r = record->second;
      auto& s = sessions.back();
      s["stateHeight"] = r.stateHeight;
      s["claimedUpokt"] = r.claimedUpokt;
      s["claimTx"] = r.claimTxId;
      s["claimTxHash"] = r.claimTxHash;
      s["claimTxHeight"] = r.claimTxHeight;
      s["proofRequirement"] = r.proofRequirement;
      s["proofTx"] = r.proofTxId;
      s["proofTxHash"] = r.proofTxHash;
      s["proofTxHeight"] = r.proofTxHeight;
      s["feesUpokt"] = r.feesUpokt;
      s["settledUpokt"] = r.settledUpokt;
      s["reasonCode"] = r.reasonCode;
      s["reason"] = r.reason;
    }
  }
  doc["sessions"] = sessions;
  nlohmann::json edges = nlohmann::json::array();
  for (const auto& e : sources.edges()) {
    std::uint64_t lag = e.lastReceivedSeq > e.ackedSeq ? e.lastReceivedSeq - e.ackedSeq : 0;
    edges.push_back({{"edgeId", e.edge.edgeId},
                     {"spoolId", e.edge.spoolId},
                     {"connected", e.connected},
                     {"key", e.keyFingerprint},
                     {"lastSeq", e.lastReceivedSeq},
                     {"ackedSeq", e.ackedSeq},
                     {"lag", lag}});
  }
  doc["edges"] = edges;
  doc["ready"] = notReadyReason(sources).empty();
  return doc;
}

std::string notReadyReason(const StatusSources& sources) {
  if (!sources.head()) return "no block read from the chain yet";
  if (sources.nodeHealth) {
    auto [healthy, summary] = sources.nodeHealth();
    if (!healthy) return "full node " + summary;
  }
  return {};
}

edge::HttpHandler makeAdminHandler(util::MetricsRegistry& metrics, StatusSources sources) {
  namespace http = edge::http;
  return [&metrics, sources = std::move(sources)](const edge::RequestContext&,
                                                  edge::HttpRequest&& request,
                                                  edge::Responder responder) {
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      return responder.send(edge::textResponse(http::status::method_not_allowed, "GET only\n"));
    }
    if (target == "/metrics") {
      edge::HttpResponse response(http::status::ok, request.version());
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response.body() = metrics.render();
      return responder.send(std::move(response));
    }
    if (target == "/healthz") return responder.send(edge::textResponse(http::status::ok, "ok\n"));
    if (target == "/readyz") {
      std::string why = notReadyReason(sources);
      if (why.empty()) return responder.send(edge::textResponse(http::status::ok, "ready\n"));
      return responder.send(
          edge::textResponse(http::status::service_unavailable, "not ready: " + why + "\n"));
    }
    if (target == "/status") {
      edge::HttpResponse response(http::status::ok, request.version());
      response.set(http::field::content_type, "application/json");
      response.body() = statusDocument(sources).dump(2) + "\n";
      return responder.send(std::move(response));
    }
    responder.send(
        edge::textResponse(http::status::not_found, "routes: /metrics /healthz /readyz /status\n"));
  };
}

namespace {

std::string cell(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

void table(std::ostream& out, const std::vector<std::string>& headers,
           const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) width[i] = headers[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      text += fmt::format("{:<{}}", cells[i], width[i]);
      if (i + 1 < cells.size()) text += "  ";
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << "\n";
  };
  line(headers);
  for (const auto& row : rows) line(row);
}

}  // namespace

void printStatus(const nlohmann::json& doc, bool asJson, std::ostream& out) {
  if (asJson) {
    out << doc.dump(2) << "\n";
    return;
  }
  const auto& chain = doc.at("chain");
  out << "chain: " << cell(chain.at("mode")) << ", height " << cell(chain.at("height"))
      << (doc.value("ready", false) ? ", ready" : ", NOT READY");
  if (chain.contains("node")) out << ", full node " << cell(chain.at("node"));
  out << "\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : doc.at("sessions")) {
    std::string outcome = cell(s.value("reasonCode", nlohmann::json("")));
    if (s.value("state", "") == "settled") outcome = cell(s.at("settledUpokt")) + " uPOKT";
    std::string tx = cell(s.value("proofTxHash", nlohmann::json("")));
    if (tx.empty()) tx = cell(s.value("claimTxHash", nlohmann::json("")));
    rows.push_back({cell(s.at("supplier")), cell(s.at("service")),
                    cell(s.at("sessionId")),
                    cell(s.at("start")) + "-" + cell(s.at("end")), cell(s.at("relays")),
                    cell(s.at("computeUnits")), cell(s.value("claimedUpokt", nlohmann::json(""))),
                    cell(s.at("state")), cell(s.value("proofRequirement", nlohmann::json(""))),
                    tx.substr(0, 16), outcome});
  }
  out << "SESSIONS (" << rows.size() << "), lifecycle " << cell(doc.value("lifecycle", nlohmann::json("off"))) << "\n";
  table(out,
        {"SUPPLIER", "SERVICE", "SESSION", "BLOCKS", "RELAYS", "COMPUTE_UNITS", "CLAIMED_UPOKT",
         "STATE", "PROOF", "TX", "OUTCOME"},
        rows);
  rows.clear();
  for (const auto& e : doc.at("edges")) {
    rows.push_back({cell(e.at("edgeId")), cell(e.at("connected")), cell(e.at("lastSeq")),
                    cell(e.at("ackedSeq")), cell(e.at("lag"))});
  }
  out << "\nEDGES (" << rows.size() << ")\n";
  table(out, {"EDGE", "CONNECTED", "LAST_SEQ", "ACKED_SEQ", "LAG"}, rows);
}

}  // namespace pocket::sm
