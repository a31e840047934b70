#pragma once
// The transaction submitter the claim/proof lifecycle hands its transactions to: signs with the
// supplier operator key, broadcasts, confirms inclusion per block, rebroadcasts while the window
// is open, and reports one outcome per request. This header is the contract between the
// lifecycle (session-manager/lifecycle.h) and the submitter's implementation.
//
// Threading: every method is called from the lifecycle thread only (an implementation may use its
// own worker threads inside). Persistence: an implementation keeps its records durably (synced
// before any broadcast) so that submit() is idempotent by id across restarts.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol/tx.h"
#include "common/util/result.h"

namespace pocket::sm {

// Outcome kinds of one submitted transaction.
enum class TxOutcomeKind {
  kIncluded,       // in a block with code 0
  kFailedInBlock,  // in a block with code != 0 (fee and sequence consumed); code/codespace/log set
  kRejected,       // refused for good before inclusion (CheckTx code that retrying cannot fix:
                   // 4 unauthorized, 5 insufficient funds, 13 fee, 30/42 timeout, poktroll codes ...)
  kExpired,        // not included by timeoutHeight (rebroadcast did not help)
};

struct TxRequest {
  std::string id;         // unique, stable across restarts, e.g. "claim/<supplier>/<claimWindowOpen>/<part>"
  std::string signer;     // supplier operator address; its key is configured in the session manager
  std::vector<protocol::TxMessage> messages;  // caller keeps each tx under protocol::kMaxBroadcastTxBytes
  std::int64_t timeoutHeight = 0;             // last height the tx may land in (window close)
};

struct TxOutcome {
  std::string id;
  TxOutcomeKind kind;
  std::string txHash;        // uppercase hex of the tx that decided the outcome
  std::int64_t height = 0;   // block it landed in (kIncluded / kFailedInBlock)
  std::uint32_t code = 0;
  std::string codespace;
  std::string log;           // the node's text
  std::uint64_t feeUpokt = 0;  // fee paid (0 when nothing was consumed)
  std::int64_t gasUsed = 0;
  std::string reason;        // words, for the lifecycle line (e.g. "window closed: timeout height 130 passed")
};

class TxSubmitter {
 public:
  virtual ~TxSubmitter() = default;
  // Records the request durably before returning, then signs and broadcasts it (now or on the
  // next onBlock). Idempotent by id: a request whose id is already known (in flight or decided)
  // changes nothing — the lifecycle re-submits after a restart without double-sending.
  // Errors: unknown signer key, empty messages, a tx over the size limit (named codes).
  virtual util::Status submit(const TxRequest& request) = 0;
  // Called by the lifecycle thread once per new height (coalesced heights: the newest one), with
  // that block's time. Checks inclusion of every in-flight tx (by hash, never assuming code 0 of
  // broadcast_tx_sync means anything), rebroadcasts / re-signs what is missing while
  // height <= timeoutHeight, recovers sequence mismatches, and returns the outcomes decided now.
  // Each outcome is returned once; it stays queryable by outcome(id).
  virtual std::vector<TxOutcome> onBlock(std::int64_t height, std::int64_t blockTimeUnixMs) = 0;
  // The decided outcome of a request, if any (after a restart too).
  virtual std::optional<TxOutcome> outcome(const std::string& id) const = 0;
  // Expected fee in uPOKT of one tx carrying `messageCount` messages of `typeUrl`, from the
  // node's gas price and gas observed on recent included txs of that kind (a configured
  // fallback before any was observed). Used by the profitability gate.
  virtual std::uint64_t estimateFeeUpokt(std::string_view typeUrl, std::size_t messageCount) const = 0;
  // Forget decided requests (retention/cleanup); in-flight ones are kept.
  virtual void forget(const std::string& id) = 0;
};

}  // namespace pocket::sm
