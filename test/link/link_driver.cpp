// link-driver: an edge reduced to its delivery path, for process-level tests. It opens a spool,
// appends mined relays 1..N (relay i always has sequence number i: after a kill -9 it continues
// from the spool's last sequence number), runs an EdgeLink, and waits until the session manager
// acked everything. Relay i is makeRelay(i) (made-up bytes, for the double), or with --session
// makeSessionRelay(i, ...) (a real Relay of that session, which the real session manager accepts).
//
//   link-driver --spool DIR --endpoint EP --count N
//               (--plaintext | --key KEY_PAIR_FILE --server-key PUBLIC_KEY_FILE)
//               [--edge-id ID] [--append-interval-us U] [--wait-ms T]
//               [--session APP SERVICE SESSION_ID START END --supplier ADDR --compute-units C]
//               [--query APP SERVICE HEIGHT [--query-timeout-ms T]]
//                                                look up one session instead, print the outcome
//                 ("session ID start=S end=E ring_keys=N compute_units_per_relay=C
//                  [stake_upokt=U bonus_multiplier=M]" or "error CODE")
// Exit status: 0 when all N are acked (or the query was answered), 1 otherwise, 2 on usage errors.

#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "edge/link/chain_facts.h"
#include "edge/link/edge_link.h"
#include "edge/link/spool.h"
#include "test/link/test_support.h"

namespace {

constexpr const char* kUsage =
    "usage: link-driver --spool DIR --endpoint EP --count N\n"
    "                   (--plaintext | --key KEY_PAIR_FILE --server-key PUBLIC_KEY_FILE)\n"
    "                   [--edge-id ID] [--append-interval-us U] [--wait-ms T]\n"
    "                   [--session APP SERVICE SESSION_ID START END --supplier ADDR\n"
    "                    --compute-units C]\n"
    "                   [--query APP SERVICE HEIGHT [--query-timeout-ms T]]\n"
    "An edge reduced to its delivery path: appends mined relays 1..N to the spool, delivers them\n"
    "over the link and waits until all are acked (exit 0; 1 otherwise, 2 on usage errors).\n"
    "--session makes them real relays of that session (supplier ADDR, C compute units each).\n"
    "--query looks up one session instead and prints the outcome.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace std::chrono;
  std::vector<std::string> args(argv + 1, argv + argc);
  pocket::edge::SpoolOptions spoolOptions;
  pocket::edge::LinkOptions linkOptions;
  linkOptions.edgeId = "edge-driver";
  linkOptions.batchMaxRelays = 64;
  linkOptions.ackTimeout = milliseconds(2000);
  std::uint64_t count = 0;
  long appendIntervalUs = 0;
  long waitMs = 30000;
  std::vector<std::string> query;
  pocket::edge::ChainFactsOptions factsOptions;
  std::optional<pocket::protocol::SessionHeader> relaySession;
  std::string supplier;
  std::uint64_t computeUnits = 1;
  try {
    for (std::size_t i = 0; i < args.size(); ++i) {
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(args[i] + " needs a value");
        return args[++i];
      };
      const std::string& a = args[i];
      if (a == "--help" || a == "-h") {
        std::cout << kUsage;
        return 0;
      }
      if (a == "--spool") {
        spoolOptions.directory = value();
      } else if (a == "--endpoint") {
        linkOptions.endpoint = value();
      } else if (a == "--count") {
        count = std::stoull(value());
      } else if (a == "--plaintext") {
        linkOptions.plaintext = true;
      } else if (a == "--key") {
        linkOptions.clientKeyFile = value();
      } else if (a == "--server-key") {
        linkOptions.serverPublicKeyFile = value();
      } else if (a == "--edge-id") {
        linkOptions.edgeId = value();
      } else if (a == "--append-interval-us") {
        appendIntervalUs = std::stol(value());
      } else if (a == "--wait-ms") {
        waitMs = std::stol(value());
      } else if (a == "--session") {
        pocket::protocol::SessionHeader header;
        header.applicationAddress = value();
        header.serviceId = value();
        header.sessionId = value();
        header.sessionStartBlockHeight = std::stoll(value());
        header.sessionEndBlockHeight = std::stoll(value());
        relaySession = header;
      } else if (a == "--supplier") {
        supplier = value();
      } else if (a == "--compute-units") {
        computeUnits = std::stoull(value());
      } else if (a == "--query-timeout-ms") {
        factsOptions.queryTimeout = milliseconds(std::stol(value()));
      } else if (a == "--query") {
        query = {value(), value(), value()};
      } else {
        throw std::invalid_argument("unknown option " + a);
      }
    }
    if (relaySession && supplier.empty()) {
      throw std::invalid_argument("--session needs --supplier");
    }
  } catch (const std::exception& e) {
    std::cerr << "link-driver: " << e.what() << "\n";
    return 2;
  }
  auto relay = [&](std::uint64_t i) {
    return relaySession
               ? pocket::test::makeSessionRelay(i, *relaySession, supplier, computeUnits)
               : pocket::test::makeRelay(i);
  };

  pocket::util::LogSink log(stderr, pocket::util::LogLevel::info);
  try {
    pocket::edge::Spool spool(spoolOptions, log);
    pocket::edge::ChainFacts facts(factsOptions, log);
    pocket::edge::EdgeLink link(linkOptions, spool, facts, log);

    if (!query.empty()) {
      std::promise<std::string> outcome;
      facts.lookupSession(query[0], query[1], std::stoll(query[2]), [&](auto result) {
        if (!result.ok()) {
          outcome.set_value("error " + result.error().code);
          return;
        }
        const auto& session = **result;
        std::string line = "session " + session.header.sessionId +
                           " start=" + std::to_string(session.header.sessionStartBlockHeight) +
                           " end=" + std::to_string(session.header.sessionEndBlockHeight) +
                           " ring_keys=" + std::to_string(session.ringPubKeys.size()) +
                           " compute_units_per_relay=" +
                           std::to_string(session.computeUnitsPerRelay);
        if (session.budget) {
          line += " stake_upokt=" + std::to_string(session.budget->applicationStakeUpokt) +
                  " bonus_multiplier=" +
                  std::to_string(session.budget->overservicingBonusMultiplier);
        }
        outcome.set_value(line);
      });
      std::cout << outcome.get_future().get() << std::endl;
      return 0;
    }

    for (std::uint64_t i = spool.lastSeq() + 1; i <= count; ++i) {
      auto seq = spool.append(relay(i));
      if (!seq.ok() || *seq != i) {
        std::cerr << "link-driver: append " << i << " failed\n";
        return 1;
      }
      if (appendIntervalUs > 0) std::this_thread::sleep_for(microseconds(appendIntervalUs));
      if (i % 64 == 0) link.wake();
    }
    link.wake();
    auto deadline = steady_clock::now() + milliseconds(waitMs);
    while (spool.ackedThrough() < count && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    std::cout << "appended=" << spool.lastSeq() << " acked=" << spool.ackedThrough()
              << " connected=" << link.connected() << " auth_failures=" << link.authFailuresTotal()
              << std::endl;
    return spool.ackedThrough() >= count ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "link-driver: " << e.what() << "\n";
    return 1;
  }
}
