#include "test/devnet/inspect.h"

#include <algorithm>
#include <map>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace pocket::devnet {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

std::string cellText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

// One table: the given columns, or a column per scalar key seen in any row (first-seen order).
std::string table(const std::string& title, const nlohmann::json& rows,
                  std::vector<std::string> columns = {}) {
  if (columns.empty()) {
    for (const auto& row : rows) {
      if (!row.is_object()) continue;
      for (auto it = row.begin(); it != row.end(); ++it) {
        if (it->is_structured()) continue;
        if (std::find(columns.begin(), columns.end(), it.key()) == columns.end()) {
          columns.push_back(it.key());
        }
      }
    }
  }
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> widths;
  for (const auto& c : columns) widths.push_back(c.size());
  for (const auto& row : rows) {
    std::vector<std::string> line;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      std::string text =
          row.is_object() && row.contains(columns[i]) ? cellText(row[columns[i]]) : "";
      widths[i] = std::max(widths[i], text.size());
      line.push_back(std::move(text));
    }
    cells.push_back(std::move(line));
  }
  std::string out = fmt::format("{} ({})\n", title, rows.size());
  if (rows.empty()) return out + "  (none)\n\n";
  auto emit = [&](const std::vector<std::string>& line) {
    out += " ";
    for (std::size_t i = 0; i < line.size(); ++i) out += fmt::format(" {:<{}}", line[i], widths[i]);
    out += "\n";
  };
  emit(columns);
  for (const auto& line : cells) emit(line);
  return out + "\n";
}

}  // namespace

util::Result<std::string> fetchDevnetState(const std::string& url) {
  std::string rest = url;
  if (rest.starts_with("http://"))
    rest = rest.substr(7);
  else if (rest.starts_with("tcp://"))
    rest = rest.substr(6);
  std::string hostPort = rest.substr(0, rest.find('/'));
  std::size_t colon = hostPort.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == hostPort.size()) {
    return util::makeError(std::string(kErrorInspect),
                           fmt::format("--rpc: '{}' is not http://host:port", url));
  }
  std::string host = hostPort.substr(0, colon);
  std::string port = hostPort.substr(colon + 1);
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host, port));
    http::request<http::empty_body> request(http::verb::get, "/devnet/state", 11);
    request.set(http::field::host, hostPort);
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    if (response.result() != http::status::ok) {
      return util::makeError(std::string(kErrorInspect),
                             fmt::format("{}/devnet/state answered HTTP {}", url,
                                         static_cast<unsigned>(response.result_int())));
    }
    return response.body();
  } catch (const std::exception& e) {
    return util::makeError(std::string(kErrorInspect),
                           fmt::format("{}/devnet/state: {}", url, e.what()));
  }
}

std::string renderStateTables(const std::string& stateJson) {
  nlohmann::json state = nlohmann::json::parse(stateJson, nullptr, false);
  if (state.is_discarded() || !state.is_object())
    return "the state document is not a JSON object\n";
  std::string out;
  for (auto it = state.begin(); it != state.end(); ++it) {
    if (!it->is_structured()) out += fmt::format("{}: {}\n", it.key(), cellText(*it));
  }
  out += "\n";
  // Claims first, with the columns an operator reads; --json has every field.
  if (state.contains("claims") && state["claims"].is_array()) {
    out += table("claims", state["claims"],
                 {"supplier_operator_address", "application_address", "service_id",
                  "session_end_block_height", "num_relays", "num_claimed_compute_units",
                  "claimed_upokt", "proof_requirement", "proof_status", "settlement",
                  "settled_upokt", "slashed_upokt", "settlement_reason"});
  }
  for (auto it = state.begin(); it != state.end(); ++it) {
    if (it.key() == "claims" || !it->is_array()) continue;
    out += table(it.key(), *it);
  }
  return out;
}

}  // namespace pocket::devnet
