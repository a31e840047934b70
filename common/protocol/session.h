#pragma once
// Session grid and claim/proof window arithmetic of poktroll (types/session.go of its `x/shared` module), for the
// session manager (when to claim, prove, expire), the edge (whether a relay is still in its
// session or grace period) and the local chain (which windows accept a claim or a proof).
//
// Which params to pass (docs/protocol.md §5): shared params change by epoch, and mixing epochs
// gives claims outside their window or wrong amounts.
//   - Timing (grid, grace period, claim and proof windows, seed heights): the shared params in
//     force at the session's END height (`ParamsAtHeight(session_end)`).
//   - Pricing (compute units to uPOKT, see common/protocol/claim_amount.h): the shared params at
//     the session's START height.
//   - Hydrating a session at height h (GetSession): the params at h.
// A num_blocks_per_session change only takes effect at a session boundary, with a new grid anchor,
// so the params at any height of one session describe the same grid.
//
// Value types and pure functions: no state, thread-safe. Bad input (zero num_blocks_per_session, a
// height below 1 or below the grid anchor, values large enough to overflow int64) is a
// util::Error with one of the codes below, never a crash or a division by zero.

#include <cstdint>

#include "common/util/result.h"

namespace pocket::protocol {

// The fields of pocket.shared.Params (package pocket.shared, params.proto; all uint64) that the
// session grid, the windows and the pricing read. Field numbers in comments.
struct SharedParams {
  std::uint64_t numBlocksPerSession = 0;             // 1
  std::uint64_t gracePeriodEndOffsetBlocks = 0;      // 2
  std::uint64_t claimWindowOpenOffsetBlocks = 0;     // 3
  std::uint64_t claimWindowCloseOffsetBlocks = 0;    // 4
  std::uint64_t proofWindowOpenOffsetBlocks = 0;     // 5
  std::uint64_t proofWindowCloseOffsetBlocks = 0;    // 6
  std::uint64_t computeUnitsToTokensMultiplier = 0;  // 9
  std::uint64_t computeUnitCostGranularity = 0;      // 11
  // Derived by the chain when num_blocks_per_session changes. 0 = unset: the grid is anchored at
  // block 1 with session number 1 there (the genesis grid).
  std::uint64_t sessionGridAnchorHeight = 0;  // 12
  std::uint64_t sessionNumberAtAnchor = 0;    // 13

  // poktroll genesis defaults (types/params.go of `x/shared`): N=10, grace 1, claim 1/4, proof 0/4,
  // CUTTM 42 000 000, granularity 1 000 000.
  static SharedParams genesisDefaults();
  // Mainnet values (tools/scripts/params/bulk_params_main/shared_params.json): N=20, grace 10,
  // claim 11/10, proof 1/10, CUTTM 145 990, granularity 1 000 000.
  static SharedParams mainnet();

  // The window arithmetic needs num_blocks_per_session > 0 and every offset, the anchor and the
  // number at the anchor ≤ kMaxBlockValue (so that no sum overflows int64). Error code
  // "bad_params".
  util::Status validateTiming() const;

  friend bool operator==(const SharedParams&, const SharedParams&) = default;
};

// Heights accepted by the arithmetic are 1 … kMaxHeight; offsets and anchors ≤ kMaxBlockValue.
// Real chains are many orders of magnitude below both.
inline constexpr std::int64_t kMaxHeight = std::int64_t{1} << 60;
inline constexpr std::uint64_t kMaxBlockValue = std::uint64_t{1} << 56;

// The session that contains a height: start = anchor + ⌊(h−anchor)/N⌋·N, end = start + N − 1,
// number = numberAtAnchor + ⌊(h−anchor)/N⌋.
struct SessionBounds {
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::int64_t number = 0;

  friend bool operator==(const SessionBounds&, const SessionBounds&) = default;
};

// Errors: "bad_params" (see validateTiming), "bad_height" (h < 1 or h > kMaxHeight),
// "height_before_anchor" (0 < h < session_grid_anchor_height: the params belong to a later epoch
// than h; fetch the params at h instead. poktroll falls back to the block-1 grid there, which is
// only right if num_blocks_per_session never changed, so this is refused rather than guessed).
util::Result<SessionBounds> sessionBounds(const SharedParams& params, std::int64_t height);

// Every height of the life cycle of one session, E = session end, P = params at E
// (docs/protocol.md §5). All heights are inclusive.
struct SessionWindows {
  SessionBounds session;
  // Relays for the session are accepted while the current height ≤ gracePeriodEnd (E + grace).
  std::int64_t gracePeriodEnd = 0;
  // E + claim_window_open_offset + 1; also the earliest claim commit height (the per-supplier
  // randomized offset is disabled in poktroll).
  std::int64_t claimWindowOpen = 0;
  // claimWindowOpen + claim_window_close_offset; a claim tx needs commit height ≤ this, so it is
  // also the claim tx's timeout_height.
  std::int64_t claimWindowClose = 0;
  // claimWindowClose + proof_window_open_offset; also the earliest proof commit height.
  std::int64_t proofWindowOpen = 0;
  // proofWindowOpen + proof_window_close_offset: the proof tx's timeout_height, the height at which
  // the chain settles the claim, and after which the session's tree can be deleted.
  std::int64_t proofWindowClose = 0;

  // The block the claim step waits for before flushing the trees: the claim window open block
  // (poktroll reads its hash as the seed of the disabled per-supplier claim offset).
  std::int64_t claimWindowOpenSeedHeight() const { return claimWindowOpen; }
  // The block whose hash seeds the proof path and the proof-requirement sample:
  // proofWindowOpen − 1. Never substitute a later block.
  std::int64_t proofSeedHeight() const { return proofWindowOpen - 1; }

  // True iff `height` is in the session itself or in its grace period (start ≤ h ≤ gracePeriodEnd):
  // a relay for this session may still be served and mined at that current height.
  bool acceptsRelaysAt(std::int64_t height) const {
    return height >= session.start && height <= gracePeriodEnd;
  }
  // True iff `height` is inside the session proper (start ≤ h ≤ end).
  bool contains(std::int64_t height) const {
    return height >= session.start && height <= session.end;
  }
  bool claimWindowIsOpenAt(std::int64_t height) const {
    return height >= claimWindowOpen && height <= claimWindowClose;
  }
  bool proofWindowIsOpenAt(std::int64_t height) const {
    return height >= proofWindowOpen && height <= proofWindowClose;
  }
  // After the proof window closed the session can no longer earn anything.
  bool expiredAt(std::int64_t height) const { return height > proofWindowClose; }

  friend bool operator==(const SessionWindows&, const SessionWindows&) = default;
};

// The windows of the session containing `heightInSession` (usually its start or end height).
// `paramsAtSessionEnd` must be the shared params at the session's end height. Errors as for
// sessionBounds.
util::Result<SessionWindows> sessionWindows(const SharedParams& paramsAtSessionEnd,
                                            std::int64_t heightInSession);

// claim_window_open_offset + claim_window_close_offset + proof_window_open_offset +
// proof_window_close_offset: the chain settles the claims of sessions that ended at
// B − this − 1 at block B. Error "bad_params".
util::Result<std::int64_t> sessionEndToProofWindowCloseBlocks(const SharedParams& params);

}  // namespace pocket::protocol
