#include "test/support/stack.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

#include "common/crypto/ring.h"
#include "common/util/hex.h"

namespace pocket::testing {

// ---- Fixture.

nlohmann::json ChainParams::toJson() const {
  nlohmann::json out = nlohmann::json::object();
  if (numBlocksPerSession) out["numBlocksPerSession"] = *numBlocksPerSession;
  if (gracePeriodEndOffsetBlocks) out["gracePeriodEndOffsetBlocks"] = *gracePeriodEndOffsetBlocks;
  if (claimWindowOpenOffsetBlocks) {
    out["claimWindowOpenOffsetBlocks"] = *claimWindowOpenOffsetBlocks;
  }
  return out;
}

nlohmann::json FixtureSession::toJson() const {
  nlohmann::json out = {{"applicationAddress", applicationAddress},
                        {"serviceId", serviceId},
                        {"sessionId", sessionId},
                        {"start", start},
                        {"end", end},
                        {"suppliers", suppliers},
                        {"ringPubKeys", ringPubKeys},
                        {"computeUnitsPerRelay", computeUnitsPerRelay}};
  if (difficultyTarget) out["difficultyTarget"] = *difficultyTarget;
  if (windowParams) out["windowParams"] = windowParams->toJson();
  if (applicationStakeUpokt) out["budget"] = {{"applicationStakeUpokt", *applicationStakeUpokt}};
  return out;
}

FixtureSession ringSession(const crypto::PublicKey& app,
                           const std::vector<crypto::PublicKey>& gateways, std::string service,
                           std::string sessionId, std::int64_t start, std::int64_t end,
                           std::vector<std::string> suppliers) {
  FixtureSession s;
  s.applicationAddress = app.address();
  s.serviceId = std::move(service);
  s.sessionId = std::move(sessionId);
  s.start = start;
  s.end = end;
  s.suppliers = std::move(suppliers);
  for (const auto& key : crypto::expectedRingKeys(app, gateways)) s.ringPubKeys.push_back(key.hex());
  s.difficultyTarget = std::string(64, 'f');
  return s;
}

nlohmann::json SessionFixture::toJson() const {
  nlohmann::json chain = {{"height", height}, {"advance", advance}};
  if (sharedParams) chain["sharedParams"] = sharedParams->toJson();
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : sessions) list.push_back(s.toJson());
  return {{"chain", chain}, {"sessions", list}};
}

// ---- edge.yaml.

std::string EdgeConfigFile::toYaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "listeners" << YAML::Value << YAML::Flow << listeners;
  out << YAML::Key << "admin_listener" << YAML::Value << adminListener;
  out << YAML::Key << "threads" << YAML::Value << threads;
  out << YAML::Key << "log_level" << YAML::Value << logLevel;
  out << YAML::Key << "suppliers" << YAML::Value << YAML::BeginSeq;
  for (const auto& file : supplierKeyFiles) {
    out << YAML::BeginMap << YAML::Key << "key_file" << YAML::Value << file << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "link" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "endpoint" << YAML::Value << linkEndpoint;
  out << YAML::Key << "plaintext" << YAML::Value << linkPlaintext;
  out << YAML::Key << "edge_id" << YAML::Value << edgeId;
  if (lookupTimeoutMs) out << YAML::Key << "lookup_timeout_ms" << YAML::Value << *lookupTimeoutMs;
  out << YAML::EndMap;
  out << YAML::Key << "spool" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "directory" << YAML::Value << spoolDirectory << YAML::EndMap;
  out << YAML::Key << "services" << YAML::Value << YAML::BeginMap;
  for (const auto& s : services) {
    out << YAML::Key << s.id << YAML::Value << YAML::BeginMap;
    if (s.validation) out << YAML::Key << "validation" << YAML::Value << *s.validation;
    if (s.maxRequestBytes) {
      out << YAML::Key << "max_request_bytes" << YAML::Value << *s.maxRequestBytes;
    }
    out << YAML::Key << "backend" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "url" << YAML::Value << s.backendUrl.value_or(s.backendPath);
    if (s.timeoutMs) out << YAML::Key << "timeout_ms" << YAML::Value << *s.timeoutMs;
    if (s.firstByteTimeoutMs) {
      out << YAML::Key << "first_byte_timeout_ms" << YAML::Value << *s.firstByteTimeoutMs;
    }
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::EndMap;
  if (!out.good()) throw std::runtime_error("edge.yaml: " + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

// ---- HTTP.

HttpAnswer httpGet(int port, const std::string& path, std::chrono::milliseconds timeout) {
  HttpAnswer answer;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return answer;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[16384];
      ssize_t n;
      while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) response.append(buffer, n);
    }
  }
  ::close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody" (the admin server answers with Content-Length).
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return answer;
  answer.status = std::atoi(response.substr(9, 3).c_str());
  auto bodyAt = response.find("\r\n\r\n");
  if (bodyAt != std::string::npos) answer.body = response.substr(bodyAt + 4);
  return answer;
}

// ---- relay-test-backend.

TestBackend::TestBackend(const std::string& dir, std::vector<std::string> extraArgs) {
  std::string portFile = dir + "/backend.port";
  std::vector<std::string> argv = {binaryPath(kTestBackendVar), "--listen", "127.0.0.1:0",
                                   "--port-file", portFile};
  argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
  process_ = std::make_unique<ChildProcess>("relay-test-backend", argv, dir + "/backend.log");
  REQUIRE(waitFor([&] { return !readLine(portFile).empty() || !process_->running(); },
                  "relay-test-backend's port file"));
  INFO(process_->describe());
  REQUIRE(process_->running());
  port_ = std::stoi(readLine(portFile));
}

std::string TestBackend::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

// ---- sm-double.

ReceivedLog ReceivedLog::parse(const std::string& text) {
  ReceivedLog out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string kind, edge, spool, seq, hash;
    fields >> kind >> edge >> spool >> seq >> hash;
    if (kind == "R") out.accepted.insert(hash);
    if (kind == "H") ++out.duplicates;
    if (kind == "X") ++out.rejected;
  }
  return out;
}

SmDouble::SmDouble(const std::string& dir, const std::string& fixturePath,
                   std::vector<std::string> args, int chainIntervalMs)
    : dir_(dir), fixturePath_(fixturePath), args_(std::move(args)),
      chainIntervalMs_(chainIntervalMs) {
  std::filesystem::create_directories(outDir());
  process_ = std::make_unique<ChildProcess>("sm-double", argv("tcp://127.0.0.1:*"), dir_ + "/sm.log");
  waitListening();
}

std::vector<std::string> SmDouble::argv(const std::string& bind) const {
  std::vector<std::string> out = {binaryPath(kSmDoubleVar), "serve", "--bind", bind, "--out",
                                  outDir(), "--fixture", fixturePath_, "--port-file",
                                  dir_ + "/sm.port", "--chain-interval-ms",
                                  std::to_string(chainIntervalMs_)};
  out.insert(out.end(), args_.begin(), args_.end());
  return out;
}

void SmDouble::waitListening() {
  std::string portFile = dir_ + "/sm.port";
  REQUIRE(waitFor([&] { return !readLine(portFile).empty() || !process_->running(); },
                  "sm-double's port file"));
  INFO(process_->describe());
  REQUIRE(process_->running());
  port_ = std::stoi(readLine(portFile));
}

void SmDouble::restart(std::optional<std::vector<std::string>> args) {
  process_->kill9();
  if (args) args_ = std::move(*args);
  std::filesystem::remove(dir_ + "/sm.port");
  process_->restart(argv("tcp://127.0.0.1:" + std::to_string(port_)));
  waitListening();
}

std::string SmDouble::receivedText() const {
  return readFile(outDir() + "/received.log");
}

// ---- relay-edge.

Edge::Edge(const std::string& name, const std::string& configPath, const std::string& logPath) {
  process_ = std::make_unique<ChildProcess>(
      name, std::vector<std::string>{binaryPath(kRelayEdgeVar), "--config", configPath}, logPath);
  waitListening();
}

void Edge::waitListening() {
  static const std::regex ports("listener=127\\.0\\.0\\.1:(\\d+) admin=127\\.0\\.0\\.1:(\\d+)");
  std::smatch m;
  std::string log;
  REQUIRE(waitFor(
      [&] {
        log = process_->outputOfThisRun();
        return std::regex_search(log, m, ports) || !process_->running();
      },
      process_->name() + "'s listener ports in its log"));
  INFO(process_->describe());
  REQUIRE(std::regex_search(log, m, ports));
  relayPort_ = std::stoi(m[1]);
  adminPort_ = std::stoi(m[2]);
}

void Edge::restart() {
  process_->restart();
  waitListening();
}

std::string Edge::relayUrl(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(relayPort_) + path;
}

double Edge::metric(const std::string& series) const {
  std::string text = "\n" + admin("/metrics").body;
  auto at = text.find("\n" + series + " ");  // a sample line, not the HELP line
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

Waited Edge::waitReady(std::chrono::milliseconds deadline) const {
  return waitFor([&] { return admin("/readyz").status == 200; }, deadline,
                 process_->name() + " ready (/readyz 200)");
}

// ---- The real session manager.

std::string SessionManagerConfigFile::toYaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "link" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "bind" << YAML::Value << bind;
  out << YAML::Key << "plaintext" << YAML::Value << plaintext;
  if (!serverKeyFile.empty()) out << YAML::Key << "server_key_file" << YAML::Value << serverKeyFile;
  if (!allowListFile.empty()) out << YAML::Key << "allow_list_file" << YAML::Value << allowListFile;
  out << YAML::EndMap;
  out << YAML::Key << "suppliers" << YAML::Value << YAML::BeginSeq;
  for (const auto& file : supplierKeyFiles) {
    out << YAML::BeginMap << YAML::Key << "key_file" << YAML::Value << file << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "chain" << YAML::Value << YAML::BeginMap;
  if (!rpcUrl.empty()) {
    out << YAML::Key << "rpc_url" << YAML::Value << rpcUrl;
    out << YAML::Key << "chain_id" << YAML::Value << chainId;
    if (websocketUrl) out << YAML::Key << "websocket_url" << YAML::Value << *websocketUrl;
  } else {
    out << YAML::Key << "fixture" << YAML::Value << fixture;
    if (blockIntervalMs) out << YAML::Key << "block_interval_ms" << YAML::Value << *blockIntervalMs;
  }
  if (pollIntervalMs) out << YAML::Key << "poll_interval_ms" << YAML::Value << *pollIntervalMs;
  if (timeoutMs) out << YAML::Key << "timeout_ms" << YAML::Value << *timeoutMs;
  out << YAML::EndMap;
  out << YAML::Key << "store" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "directory" << YAML::Value << storeDirectory;
  if (treeCommitIntervalMs) {
    out << YAML::Key << "tree_commit_interval_ms" << YAML::Value << *treeCommitIntervalMs;
  }
  out << YAML::EndMap;
  out << YAML::Key << "admin" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << adminListen;
  out << YAML::EndMap;
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "level" << YAML::Value << logLevel;
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

SessionManager::SessionManager(const std::string& dir, const std::string& name,
                               SessionManagerConfigFile config, std::vector<std::string> runArgs)
    : dir_(dir), name_(name), config_(std::move(config)) {
  if (config_.storeDirectory.empty()) config_.storeDirectory = dir_ + "/" + name_ + "-store";
  writeFile(dir_ + "/" + name_ + ".yaml", config_.toYaml());
  process_ = std::make_unique<ChildProcess>(name_, argv(runArgs), dir_ + "/" + name_ + ".log");
  waitStarted();
  // A restart binds the same port: the edges keep their endpoint.
  config_.bind = endpoint();
  writeFile(dir_ + "/" + name_ + ".yaml", config_.toYaml());
}

void SessionManager::waitStarted() {
  static const std::regex started(
      "event=sm_started link=tcp://127\\.0\\.0\\.1:(\\d+) admin=127\\.0\\.0\\.1:(\\d+)");
  std::smatch m;
  std::string log;
  REQUIRE(waitFor(
      [&] {
        log = process_->outputOfThisRun();
        return std::regex_search(log, m, started) || !process_->running();
      },
      process_->name() + "'s sm_started line in its log"));
  INFO(process_->describe());
  REQUIRE(std::regex_search(log, m, started));
  linkPort_ = std::stoi(m[1]);
  adminPort_ = std::stoi(m[2]);
}

std::vector<std::string> SessionManager::argv(const std::vector<std::string>& runArgs) const {
  std::vector<std::string> out = {binaryPath(kSessionManagerVar), "run", "--config",
                                  dir_ + "/" + name_ + ".yaml"};
  out.insert(out.end(), runArgs.begin(), runArgs.end());
  return out;
}

void SessionManager::restart(std::vector<std::string> runArgs) {
  if (process_->running()) process_->kill9();
  process_->restart(argv(runArgs));
  waitStarted();
}

double SessionManager::metric(const std::string& series) const {
  std::string text = "\n" + admin("/metrics").body;
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

// ---- The stack.

Stack::Stack(const std::string& prefix)
    : dir(prefix), logsOnFailure_(std::function<void(std::ostream*)>(
                       [this](std::ostream* out) { *out << describe(); })) {}

Stack::~Stack() = default;

ChildProcess& Stack::spawn(const std::string& name, std::vector<std::string> argv) {
  spawned_.push_back(std::make_unique<ChildProcess>(name, std::move(argv), path(name + ".log")));
  return *spawned_.back();
}

Run Stack::gateway(std::vector<std::string> args) {
  args.insert(args.begin(), binaryPath(kRelayGatewayVar));
  return runToEnd(args, path("gateway-" + std::to_string(gatewayRuns_++) + ".log"));
}

std::string Stack::describe() const {
  std::ostringstream out;
  out << "stack in " << dir.path() << ":\n";
  if (backend) out << backend->process().describe(1024);
  if (sm) out << sm->process().describe();
  if (manager) out << manager->process().describe();
  for (const auto& e : edges) out << e->process().describe();
  for (const auto& p : spawned_) out << p->describe();
  return out.str();
}

StackBuilder& StackBuilder::key(const std::string& name, const crypto::PrivateKey& key) {
  keys_.emplace_back(name, util::toHex(key.bytes()));
  return *this;
}

StackBuilder& StackBuilder::fixture(SessionFixture fixture) {
  fixture_ = std::move(fixture);
  return *this;
}

StackBuilder& StackBuilder::sessionManagerArgs(std::vector<std::string> args) {
  smArgs_ = std::move(args);
  return *this;
}

StackBuilder& StackBuilder::chainIntervalMs(int ms) {
  chainIntervalMs_ = ms;
  return *this;
}

StackBuilder& StackBuilder::withoutSessionManager() {
  sessionManager_ = false;
  return *this;
}

StackBuilder& StackBuilder::backendArgs(std::vector<std::string> args) {
  backendArgs_ = std::move(args);
  return *this;
}

StackBuilder& StackBuilder::edge(EdgeConfigFile config) {
  edges_.push_back(std::move(config));
  return *this;
}

StackBuilder& StackBuilder::manager(ManagerKind kind) {
  managerKind_ = kind;
  return *this;
}

StackBuilder& StackBuilder::managerSupplierKey(const std::string& name) {
  managerSupplierKeys_.push_back(name);
  return *this;
}

StackBuilder& StackBuilder::managerDiesAfterDurableWrite(int n) {
  dieAfterDurableWrite_ = n;
  return *this;
}

StackBuilder& StackBuilder::linkCurve(std::string serverKeyFile, std::string allowListFile) {
  curveServerKeyFile_ = std::move(serverKeyFile);
  curveAllowListFile_ = std::move(allowListFile);
  return *this;
}

ChildProcess& Stack::managerProcess() {
  if (sm) return sm->process();
  if (manager) return manager->process();
  throw std::logic_error("the stack runs no session manager");
}

void Stack::restartManager() {
  if (manager) return manager->restart();
  if (!sm) throw std::logic_error("the stack runs no session manager");
  std::vector<std::string> args;
  const auto& now = sm->args();
  for (std::size_t i = 0; i < now.size(); ++i) {
    if (now[i] == "--exit-after-durable-batches") {
      ++i;  // and its value
      continue;
    }
    args.push_back(now[i]);
  }
  sm->restart(args);
}

std::string Stack::managerEndpoint() const {
  if (sm) return sm->endpoint();
  if (manager) return manager->endpoint();
  return "";
}

std::map<std::string, SessionTally> Stack::managerSessions() const {
  std::map<std::string, SessionTally> out;
  if (sm) {
    // R <edge> <spool> <seq> <relay hash hex> <compute units> <session id>
    std::istringstream lines(sm->receivedText());
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string kind, edge, spool, seq, hash, sessionId;
      std::uint64_t units = 0;
      fields >> kind >> edge >> spool >> seq >> hash >> units >> sessionId;
      if (kind != "R" || !fields) continue;
      ++out[sessionId].relays;
      out[sessionId].computeUnits += units;
    }
  } else if (manager) {
    auto status = manager->admin("/status");
    if (status.status != 200) return out;
    auto doc = nlohmann::json::parse(status.body, nullptr, false);
    if (doc.is_discarded() || !doc.contains("sessions")) return out;
    for (const auto& s : doc["sessions"]) {
      auto& tally = out[s.at("sessionId").get<std::string>()];
      tally.relays += s.at("relays").get<std::uint64_t>();
      tally.computeUnits += s.at("computeUnits").get<std::uint64_t>();
    }
  }
  return out;
}

std::unique_ptr<Stack> StackBuilder::start() {
  auto stack = std::make_unique<Stack>(prefix_);
  for (const auto& [name, hex] : keys_) writeFile(stack->path(name + ".key"), hex + "\n", 0600);
  writeFile(stack->path("fixture.json"), fixture_.toJson().dump(2) + "\n");
  if (!edges_.empty()) stack->backend = std::make_unique<TestBackend>(stack->dir, backendArgs_);
  if (sessionManager_ && managerKind_ == ManagerKind::smDouble) {
    std::vector<std::string> args = {"--plaintext"};
    if (!curveServerKeyFile_.empty()) {
      args = {"--server-key", curveServerKeyFile_, "--allow-list", curveAllowListFile_};
    }
    args.insert(args.end(), smArgs_.begin(), smArgs_.end());
    if (dieAfterDurableWrite_) {
      args.insert(args.end(),
                  {"--exit-after-durable-batches", std::to_string(*dieAfterDurableWrite_)});
    }
    stack->sm = std::make_unique<SmDouble>(stack->dir, stack->path("fixture.json"), args,
                                           chainIntervalMs_);
  }
  if (sessionManager_ && managerKind_ == ManagerKind::real) {
    SessionManagerConfigFile config;
    std::set<std::string> keyFiles;
    auto keyPath = [&](const std::string& file) {
      return file.find('/') == std::string::npos ? stack->path(file + ".key") : file;
    };
    for (const auto& edge : edges_) {
      for (const auto& file : edge.supplierKeyFiles) keyFiles.insert(keyPath(file));
    }
    for (const auto& name : managerSupplierKeys_) keyFiles.insert(keyPath(name));
    config.supplierKeyFiles.assign(keyFiles.begin(), keyFiles.end());
    if (!curveServerKeyFile_.empty()) {
      config.plaintext = false;
      config.serverKeyFile = curveServerKeyFile_;
      config.allowListFile = curveAllowListFile_;
    }
    config.fixture = stack->path("fixture.json");
    config.blockIntervalMs = chainIntervalMs_;
    config.pollIntervalMs = chainIntervalMs_;
    config.treeCommitIntervalMs = 100;
    std::vector<std::string> runArgs;
    if (dieAfterDurableWrite_) {
      runArgs = {"--crash-at", "after_write:" + std::to_string(*dieAfterDurableWrite_)};
    }
    stack->manager = std::make_unique<SessionManager>(stack->dir, "session-manager", config,
                                                      runArgs);
  }
  for (std::size_t i = 0; i < edges_.size(); ++i) {
    EdgeConfigFile config = edges_[i];
    for (auto& file : config.supplierKeyFiles) {
      if (file.find('/') == std::string::npos) file = stack->path(file + ".key");
    }
    if (config.linkEndpoint.empty()) {
      // Without a session manager: a port where nothing listens, so the link stays down.
      config.linkEndpoint =
          stack->managerEndpoint().empty() ? "tcp://127.0.0.1:1" : stack->managerEndpoint();
    }
    if (config.spoolDirectory.empty()) config.spoolDirectory = stack->path("spool-" + config.edgeId);
    for (auto& service : config.services) {
      if (!service.backendUrl) service.backendUrl = stack->backend->url(service.backendPath);
    }
    std::string name = edges_.size() == 1 ? "edge" : "edge-" + std::to_string(i);
    writeFile(stack->path(name + ".yaml"), config.toYaml());
    stack->edges.push_back(
        std::make_unique<Edge>(name, stack->path(name + ".yaml"), stack->path(name + ".log")));
  }
  return stack;
}

}  // namespace pocket::testing
