#include "common/protocol/session.h"

#include <string>

#include <fmt/format.h>

namespace pocket::protocol {

SharedParams SharedParams::genesisDefaults() {
  SharedParams p;
  p.numBlocksPerSession = 10;
  p.gracePeriodEndOffsetBlocks = 1;
  p.claimWindowOpenOffsetBlocks = 1;
  p.claimWindowCloseOffsetBlocks = 4;
  p.proofWindowOpenOffsetBlocks = 0;
  p.proofWindowCloseOffsetBlocks = 4;
  p.computeUnitsToTokensMultiplier = 42'000'000;
  p.computeUnitCostGranularity = 1'000'000;
  return p;
}

SharedParams SharedParams::mainnet() {
  SharedParams p;
  p.numBlocksPerSession = 20;
  p.gracePeriodEndOffsetBlocks = 10;
  p.claimWindowOpenOffsetBlocks = 11;
  p.claimWindowCloseOffsetBlocks = 10;
  p.proofWindowOpenOffsetBlocks = 1;
  p.proofWindowCloseOffsetBlocks = 10;
  p.computeUnitsToTokensMultiplier = 145'990;
  p.computeUnitCostGranularity = 1'000'000;
  return p;
}

namespace {

util::Status checkBlockValue(const char* name, std::uint64_t value) {
  if (value > kMaxBlockValue) {
    return util::makeError("bad_params", fmt::format("shared params: {} = {} exceeds the supported "
                                                     "maximum {}",
                                                     name, value, kMaxBlockValue));
  }
  return util::Ok{};
}

}  // namespace

util::Status SharedParams::validateTiming() const {
  if (numBlocksPerSession == 0) {
    return util::makeError("bad_params", "shared params: num_blocks_per_session is 0");
  }
  const std::pair<const char*, std::uint64_t> fields[] = {
      {"num_blocks_per_session", numBlocksPerSession},
      {"grace_period_end_offset_blocks", gracePeriodEndOffsetBlocks},
      {"claim_window_open_offset_blocks", claimWindowOpenOffsetBlocks},
      {"claim_window_close_offset_blocks", claimWindowCloseOffsetBlocks},
      {"proof_window_open_offset_blocks", proofWindowOpenOffsetBlocks},
      {"proof_window_close_offset_blocks", proofWindowCloseOffsetBlocks},
      {"session_grid_anchor_height", sessionGridAnchorHeight},
      {"session_number_at_anchor", sessionNumberAtAnchor},
  };
  for (const auto& [name, value] : fields) {
    if (auto status = checkBlockValue(name, value); !status) return status;
  }
  return util::Ok{};
}

util::Result<SessionBounds> sessionBounds(const SharedParams& params, std::int64_t height) {
  if (auto status = params.validateTiming(); !status) return status.error();
  if (height < 1 || height > kMaxHeight) {
    return util::makeError("bad_height",
                           fmt::format("height {} is outside 1..{}", height, kMaxHeight));
  }
  // An unset anchor (0) means the genesis grid: anchor 1, session number 1 there.
  std::int64_t anchor = 1;
  std::int64_t numberAtAnchor = 1;
  if (params.sessionGridAnchorHeight > 0) {
    anchor = static_cast<std::int64_t>(params.sessionGridAnchorHeight);
    if (params.sessionNumberAtAnchor > 0) {
      numberAtAnchor = static_cast<std::int64_t>(params.sessionNumberAtAnchor);
    }
  }
  if (height < anchor) {
    return util::makeError(
        "height_before_anchor",
        fmt::format("height {} is before the session grid anchor {}: these params belong to a "
                    "later epoch; use the shared params at height {}",
                    height, anchor, height));
  }
  const auto n = static_cast<std::int64_t>(params.numBlocksPerSession);
  const std::int64_t sessionsSinceAnchor = (height - anchor) / n;
  SessionBounds bounds;
  bounds.start = anchor + sessionsSinceAnchor * n;
  bounds.end = bounds.start + n - 1;
  bounds.number = numberAtAnchor + sessionsSinceAnchor;
  return bounds;
}

util::Result<SessionWindows> sessionWindows(const SharedParams& paramsAtSessionEnd,
                                            std::int64_t heightInSession) {
  auto bounds = sessionBounds(paramsAtSessionEnd, heightInSession);
  if (!bounds) return bounds.error();
  const SharedParams& p = paramsAtSessionEnd;
  // validateTiming bounds every offset by 2^56 and heights by 2^60: no sum below overflows.
  SessionWindows w;
  w.session = *bounds;
  const std::int64_t end = w.session.end;
  w.gracePeriodEnd = end + static_cast<std::int64_t>(p.gracePeriodEndOffsetBlocks);
  w.claimWindowOpen = end + static_cast<std::int64_t>(p.claimWindowOpenOffsetBlocks) + 1;
  w.claimWindowClose =
      w.claimWindowOpen + static_cast<std::int64_t>(p.claimWindowCloseOffsetBlocks);
  w.proofWindowOpen = w.claimWindowClose + static_cast<std::int64_t>(p.proofWindowOpenOffsetBlocks);
  w.proofWindowClose =
      w.proofWindowOpen + static_cast<std::int64_t>(p.proofWindowCloseOffsetBlocks);
  return w;
}

util::Result<std::int64_t> sessionEndToProofWindowCloseBlocks(const SharedParams& params) {
  if (auto status = params.validateTiming(); !status) return status.error();
  return static_cast<std::int64_t>(
      params.claimWindowOpenOffsetBlocks + params.claimWindowCloseOffsetBlocks +
      params.proofWindowOpenOffsetBlocks + params.proofWindowCloseOffsetBlocks);
}

}  // namespace pocket::protocol
