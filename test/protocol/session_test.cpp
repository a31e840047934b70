#include "common/protocol/session.h"

#include <doctest.h>

#include "test/vectors_path.h"

using namespace pocket;
using protocol::SharedParams;

namespace {

protocol::SessionWindows windowsOrFail(const SharedParams& params, std::int64_t height) {
  auto windows = protocol::sessionWindows(params, height);
  REQUIRE_MESSAGE(windows.ok(), (windows.ok() ? "" : windows.error().message));
  return *windows;
}

}  // namespace

TEST_CASE("genesis-default params: the worked example of the spec (E = end, N = 10)") {
  const SharedParams params = SharedParams::genesisDefaults();
  // Height 95 is in session [91, 100], number 10.
  const auto w = windowsOrFail(params, 95);
  CHECK(w.session == protocol::SessionBounds{91, 100, 10});
  const std::int64_t e = 100;
  CHECK(w.gracePeriodEnd == e + 1);
  CHECK(w.claimWindowOpen == e + 2);
  CHECK(w.claimWindowClose == e + 6);
  CHECK(w.proofWindowOpen == e + 6);
  CHECK(w.proofWindowClose == e + 10);
  CHECK(w.proofSeedHeight() == e + 5);
  CHECK(w.claimWindowOpenSeedHeight() == e + 2);
  CHECK(*protocol::sessionEndToProofWindowCloseBlocks(params) == 9);
  // Settlement at B = proofWindowClose settles the sessions ending at B − 9 − 1.
  CHECK(w.proofWindowClose - *protocol::sessionEndToProofWindowCloseBlocks(params) - 1 == e);
}

TEST_CASE("mainnet params: the worked example of the spec (E = end, N = 20)") {
  const SharedParams params = SharedParams::mainnet();
  const auto w = windowsOrFail(params, 40);
  CHECK(w.session == protocol::SessionBounds{21, 40, 2});
  const std::int64_t e = 40;
  CHECK(w.gracePeriodEnd == e + 10);
  CHECK(w.claimWindowOpen == e + 12);
  CHECK(w.claimWindowClose == e + 22);
  CHECK(w.proofWindowOpen == e + 23);
  CHECK(w.proofWindowClose == e + 33);
  CHECK(w.proofSeedHeight() == e + 22);
  CHECK(*protocol::sessionEndToProofWindowCloseBlocks(params) == 32);
}

TEST_CASE("every height of a session gives the same windows; the next height starts a new one") {
  const SharedParams params = SharedParams::mainnet();
  const auto first = windowsOrFail(params, 1);
  CHECK(first.session == protocol::SessionBounds{1, 20, 1});
  for (std::int64_t h = 1; h <= 20; ++h) CHECK(windowsOrFail(params, h) == first);
  CHECK(windowsOrFail(params, 21).session == protocol::SessionBounds{21, 40, 2});
}

TEST_CASE("relay acceptance, claim and proof windows are inclusive at both ends") {
  const auto w = windowsOrFail(SharedParams::mainnet(), 30);  // session [21, 40]
  CHECK_FALSE(w.acceptsRelaysAt(20));
  CHECK(w.acceptsRelaysAt(21));
  CHECK(w.acceptsRelaysAt(40));
  CHECK(w.acceptsRelaysAt(50));  // grace end = 40 + 10
  CHECK_FALSE(w.acceptsRelaysAt(51));
  CHECK(w.contains(40));
  CHECK_FALSE(w.contains(41));
  CHECK_FALSE(w.claimWindowIsOpenAt(51));
  CHECK(w.claimWindowIsOpenAt(52));
  CHECK(w.claimWindowIsOpenAt(62));
  CHECK_FALSE(w.claimWindowIsOpenAt(63));
  CHECK_FALSE(w.proofWindowIsOpenAt(62));
  CHECK(w.proofWindowIsOpenAt(63));
  CHECK(w.proofWindowIsOpenAt(73));
  CHECK_FALSE(w.expiredAt(73));
  CHECK(w.expiredAt(74));
}

TEST_CASE("an anchored grid counts sessions from the anchor with the anchor's session number") {
  // poktroll's 60 → 7 change: the old grid ends at 180, the new one starts at 181 as session 4.
  SharedParams params = SharedParams::genesisDefaults();
  params.numBlocksPerSession = 7;
  params.sessionGridAnchorHeight = 181;
  params.sessionNumberAtAnchor = 4;
  CHECK(*protocol::sessionBounds(params, 181) == protocol::SessionBounds{181, 187, 4});
  CHECK(*protocol::sessionBounds(params, 187) == protocol::SessionBounds{181, 187, 4});
  CHECK(*protocol::sessionBounds(params, 191) == protocol::SessionBounds{188, 194, 5});
  // Anchor 1 (or unset) is the genesis grid, whatever the number at the anchor says when unset.
  SharedParams genesis = SharedParams::genesisDefaults();
  genesis.numBlocksPerSession = 60;
  genesis.sessionGridAnchorHeight = 1;
  genesis.sessionNumberAtAnchor = 1;
  SharedParams unset = genesis;
  unset.sessionGridAnchorHeight = 0;
  unset.sessionNumberAtAnchor = 0;
  for (std::int64_t h = 1; h <= 600; h += 7) {
    auto a = protocol::sessionBounds(genesis, h);
    auto b = protocol::sessionBounds(unset, h);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(*a == *b);
    CHECK(a->start == h - ((h - 1) % 60));
    CHECK(a->number == (h - 1) / 60 + 1);
  }
}

TEST_CASE("the session grid values of session-id.json") {
  const auto vectors = test::loadVectors("cosmos/session-id.json");
  int checked = 0;
  for (const char* group : {"poktroll_test_vectors", "devnet_vectors"}) {
    for (const auto& v : vectors.at(group)) {
      SharedParams params = SharedParams::genesisDefaults();
      params.numBlocksPerSession = v.at("num_blocks_per_session").get<std::uint64_t>();
      auto bounds = protocol::sessionBounds(params, v.at("query_height").get<std::int64_t>());
      REQUIRE(bounds.ok());
      CHECK(bounds->start == v.at("session_start").get<std::int64_t>());
      CHECK(bounds->end == v.at("session_end").get<std::int64_t>());
      CHECK(bounds->number == v.at("session_number").get<std::int64_t>());
      ++checked;
    }
  }
  CHECK(checked == 7);
}

TEST_CASE("bad input is a typed error, never a crash or a division by zero") {
  SharedParams zero = SharedParams::mainnet();
  zero.numBlocksPerSession = 0;
  auto r = protocol::sessionWindows(zero, 10);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "bad_params");
  CHECK(protocol::sessionEndToProofWindowCloseBlocks(zero).error().code == "bad_params");

  for (std::int64_t height : {std::int64_t{0}, std::int64_t{-5}, INT64_MIN, INT64_MAX}) {
    auto bad = protocol::sessionBounds(SharedParams::mainnet(), height);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == "bad_height");
  }

  SharedParams anchored = SharedParams::mainnet();
  anchored.sessionGridAnchorHeight = 1000;
  anchored.sessionNumberAtAnchor = 50;
  auto before = protocol::sessionWindows(anchored, 999);
  REQUIRE_FALSE(before.ok());
  CHECK(before.error().code == "height_before_anchor");
  CHECK(protocol::sessionWindows(anchored, 1000).ok());

  SharedParams huge = SharedParams::mainnet();
  huge.proofWindowCloseOffsetBlocks = UINT64_MAX;
  CHECK(protocol::sessionWindows(huge, 10).error().code == "bad_params");
  huge = SharedParams::mainnet();
  huge.numBlocksPerSession = UINT64_MAX;
  CHECK(protocol::sessionBounds(huge, 10).error().code == "bad_params");

  // The largest accepted values do not overflow.
  SharedParams edge = SharedParams::mainnet();
  edge.gracePeriodEndOffsetBlocks = protocol::kMaxBlockValue;
  edge.claimWindowOpenOffsetBlocks = protocol::kMaxBlockValue;
  edge.claimWindowCloseOffsetBlocks = protocol::kMaxBlockValue;
  edge.proofWindowOpenOffsetBlocks = protocol::kMaxBlockValue;
  edge.proofWindowCloseOffsetBlocks = protocol::kMaxBlockValue;
  auto far = protocol::sessionWindows(edge, protocol::kMaxHeight);
  REQUIRE(far.ok());
  CHECK(far->proofWindowClose > far->session.end);
}
