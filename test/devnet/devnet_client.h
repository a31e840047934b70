#pragma once
// Test-side access to a running pocket-devnet: start it (init + run) in a temporary directory,
// call its JSON-RPC over HTTP and WebSocket on 127.0.0.1, sign and send MsgSend transactions.
// Every wait has a generous deadline that only bounds a failure.

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <doctest.h>

#include "common/crypto/keys.h"
#include "common/protocol/abci_query.h"
#include "common/protocol/proto_wire.h"
#include "common/protocol/tx.h"
#include "common/util/base64.h"
#include "common/util/hex.h"
#include "test/support/process.h"

namespace pocket::devnet::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;
using nlohmann::json;

inline constexpr auto kDeadline = std::chrono::seconds(60);

struct HttpReply {
  unsigned status = 0;
  std::string body;
  json parsed() const { return json::parse(body); }
};

inline HttpReply httpCall(std::uint16_t port, http::verb verb, const std::string& target,
                          const std::string& body = "") {
  boost::asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> request(verb, target, 11);
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  // A server may answer before the whole request is sent (a body it refuses) and stop reading;
  // its reply is still read below, and a failed read reports the error.
  beast::error_code writeError;
  http::write(socket, request, writeError);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http::read(socket, buffer, parser);
  return HttpReply{parser.get().result_int(), parser.get().body()};
}

// A pocket-devnet started from `init` output, stopped (SIGKILL) when the object goes.
class DevnetProcess {
 public:
  // `binary` is the pocket-devnet path; `initArgs` go to init, `genesisEdit` may rewrite the
  // generated genesis before `run` starts with `runArgs`.
  DevnetProcess(const std::string& binary, std::vector<std::string> initArgs,
                std::vector<std::string> runArgs,
                const std::function<std::string(std::string)>& genesisEdit = {}) {
    std::vector<std::string> init{binary, "init", dir_};
    init.insert(init.end(), initArgs.begin(), initArgs.end());
    auto initRun = pocket::testing::runToEnd(init, dir_ / "init.log");
    REQUIRE_MESSAGE(initRun.status == 0, initRun.output);
    if (genesisEdit) {
      std::string text = pocket::testing::readFile(dir_ / "genesis.yaml");
      pocket::testing::writeFile(dir_ / "genesis.yaml", genesisEdit(text));
    }
    std::vector<std::string> run{binary,  "run",         "--genesis",   dir_ / "genesis.yaml",
                                 "--rpc", "127.0.0.1:0", "--port-file", dir_ / "port"};
    run.insert(run.end(), runArgs.begin(), runArgs.end());
    process_.emplace("pocket-devnet", run, dir_ / "devnet.log");
    auto ready = pocket::testing::waitFor(
        [&] { return !pocket::testing::readLine(dir_ / "port").empty(); }, kDeadline,
        "pocket-devnet's port file");
    REQUIRE_MESSAGE(ready, process_->describe());
    port_ = static_cast<std::uint16_t>(std::stoi(pocket::testing::readLine(dir_ / "port")));
  }

  std::uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_.path(); }
  std::string log() const { return pocket::testing::readFile(dir_ / "devnet.log"); }

  crypto::PrivateKey key(const std::string& name) const {
    auto key = crypto::loadPrivateKeyFile(dir_ / ("keys/" + name + ".key"));
    REQUIRE(key.ok());
    return *key;
  }

  HttpReply post(const json& request) const {
    return httpCall(port_, http::verb::post, "/", request.dump());
  }
  HttpReply get(const std::string& target) const {
    return httpCall(port_, http::verb::get, target);
  }

  // The `result` of a successful call; fails the test on a JSON-RPC error.
  json call(const std::string& method, json params = json::object()) const {
    json reply =
        post({{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}}).parsed();
    REQUIRE_MESSAGE(reply.contains("result"), reply.dump());
    return reply["result"];
  }
  // The `error` of a call that must fail.
  json callError(const std::string& method, json params = json::object()) const {
    json reply =
        post({{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}}).parsed();
    REQUIRE_MESSAGE(reply.contains("error"), reply.dump());
    return reply["error"];
  }

  std::int64_t height() const {
    return std::stoll(call("status")["sync_info"]["latest_block_height"].get<std::string>());
  }
  void waitForHeight(std::int64_t h) const {
    REQUIRE_MESSAGE(pocket::testing::waitFor([&] { return height() >= h; }, kDeadline, "height " + std::to_string(h)), "height ", h,
                    " not reached; at ", height());
  }

  // abci_query's `response` object.
  json query(const protocol::AbciQuery& q, std::int64_t height = 0) const {
    return call("abci_query", {{"path", q.path},
                               {"data", util::toHex(q.data)},
                               {"height", std::to_string(height)},
                               {"prove", false}})["response"];
  }
  protocol::AccountInfo account(const std::string& address) const {
    json response = query(protocol::accountQuery(address));
    REQUIRE_MESSAGE(response["code"] == 0, response.dump());
    auto value = util::fromBase64(response["value"].get<std::string>());
    REQUIRE(value.ok());
    auto info = protocol::decodeAccountResponse(*value);
    REQUIRE(info.ok());
    return *info;
  }
  std::uint64_t balance(const std::string& address) const {
    json response = query(protocol::balanceQuery(address));
    REQUIRE_MESSAGE(response["code"] == 0, response.dump());
    auto value = util::fromBase64(response["value"].get<std::string>());
    REQUIRE(value.ok());
    auto coin = protocol::decodeBalanceResponse(*value);
    REQUIRE(coin.ok());
    return std::stoull(coin->amount.empty() ? "0" : coin->amount);
  }
  // broadcast_tx_sync: the result, or the JSON-RPC error object.
  json broadcast(const util::Bytes& txRaw) const {
    json reply = post({{"jsonrpc", "2.0"},
                       {"id", 1},
                       {"method", "broadcast_tx_sync"},
                       {"params", {{"tx", util::toBase64(txRaw)}}}})
                     .parsed();
    return reply.contains("result") ? reply["result"] : reply["error"];
  }
  // Waits until the tx with this uppercase hex hash is in a block; returns its `tx` result.
  json waitForTx(const std::string& hashHex) const {
    json found;
    auto ok = pocket::testing::waitFor(
        [&] {
          auto bytes = util::fromHex(hashHex);
          json reply = post({{"jsonrpc", "2.0"},
                             {"id", 1},
                             {"method", "tx"},
                             {"params", {{"hash", util::toBase64(*bytes)}, {"prove", false}}}})
                           .parsed();
          if (!reply.contains("result")) return false;
          found = reply["result"];
          return true;
        },
        kDeadline, "tx " + hashHex + " in a block");
    REQUIRE(ok);
    return found;
  }
  json state() const { return get("/devnet/state").parsed(); }

 private:
  pocket::testing::TempDir dir_{"pocket-devnet-test"};
  std::optional<pocket::testing::ChildProcess> process_;
  std::uint16_t port_ = 0;
};

// cosmos.bank.v1beta1.MsgSend{from, to, [upokt amount]}.
inline protocol::TxMessage msgSend(const std::string& from, const std::string& to,
                                   std::uint64_t amount) {
  util::Bytes coin;
  protocol::wire::Writer coinWriter(coin);
  coinWriter.stringField(1, "upokt");
  coinWriter.stringField(2, std::to_string(amount));
  util::Bytes value;
  protocol::wire::Writer writer(value);
  writer.stringField(1, from);
  writer.stringField(2, to);
  writer.messageHeader(3, coin.size());
  writer.raw(coin);
  return protocol::TxMessage{"/cosmos.bank.v1beta1.MsgSend", value};
}

struct SignOptions {
  std::string chainId = "pocket";
  std::optional<std::uint64_t> accountNumber;  // default: the real one
  std::optional<std::uint64_t> sequence;       // default: the committed one
  std::uint64_t fee = 1000;
  std::uint64_t gasLimit = 200000;
  std::string memo;
  std::uint64_t timeoutHeight = 0;
};

inline protocol::SignedTx signMessages(const DevnetProcess& devnet, const crypto::PrivateKey& key,
                                       const std::vector<protocol::TxMessage>& messages,
                                       const SignOptions& sign = {}) {
  protocol::AccountInfo info = devnet.account(key.publicKey().address());
  protocol::TxOptions options;
  options.chainId = sign.chainId;
  options.accountNumber = sign.accountNumber.value_or(info.accountNumber);
  options.sequence = sign.sequence.value_or(info.sequence);
  crypto::PublicKey publicKey = key.publicKey();
  options.signerPublicKey.assign(publicKey.compressed().begin(), publicKey.compressed().end());
  options.memo = sign.memo;
  options.timeoutHeight = sign.timeoutHeight;
  options.fee.gasLimit = sign.gasLimit;
  if (sign.fee > 0) options.fee.amount = {{"upokt", std::to_string(sign.fee)}};
  auto unsignedTx = protocol::buildUnsignedTx(messages, options);
  REQUIRE_MESSAGE(unsignedTx.ok(), unsignedTx.error().message);
  return protocol::signTx(*unsignedTx, key);
}

// A WebSocket JSON-RPC client; reads wait at most `timeout`.
class WsClient {
 public:
  explicit WsClient(std::uint16_t port) : ws_(io_) {
    ws_.next_layer().connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    ws_.handshake("127.0.0.1", "/websocket");
  }
  void send(const json& message) { ws_.write(boost::asio::buffer(message.dump())); }
  std::optional<json> read(std::chrono::seconds timeout = kDeadline) {
    std::optional<json> out;
    beast::flat_buffer buffer;
    bool done = false;
    ws_.async_read(buffer, [&](beast::error_code ec, std::size_t) {
      done = true;
      if (!ec) out = json::parse(beast::buffers_to_string(buffer.data()));
    });
    io_.restart();
    io_.run_for(timeout);
    if (!done) {
      beast::error_code ignored;
      ws_.next_layer().cancel(ignored);
      io_.restart();
      io_.run();
    }
    return out;
  }
  // Reads until a message satisfies `predicate`.
  template <class F>
  std::optional<json> readUntil(F predicate, std::chrono::seconds timeout = kDeadline) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::seconds>(
          deadline - std::chrono::steady_clock::now());
      auto message = read(std::max(left, std::chrono::seconds(1)));
      if (!message) return std::nullopt;
      if (predicate(*message)) return message;
    }
    return std::nullopt;
  }

 private:
  boost::asio::io_context io_;
  websocket::stream<tcp::socket> ws_;
};

}  // namespace pocket::devnet::test
