#include "edge/relay_outcome.h"

namespace pocket::edge {

std::string_view outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::served:
      return "served";
    case Outcome::malformedRequest:
      return "malformed_request";
    case Outcome::invalidRequest:
      return "invalid_request";
    case Outcome::requestTooLarge:
      return "request_too_large";
    case Outcome::badRpcType:
      return "bad_rpc_type";
    case Outcome::unknownService:
      return "unknown_service";
    case Outcome::unknownSupplier:
      return "unknown_supplier";
    case Outcome::sessionNotCurrent:
      return "session_not_current";
    case Outcome::sessionExpired:
      return "session_expired";
    case Outcome::sessionNotFound:
      return "session_not_found";
    case Outcome::sessionMismatch:
      return "session_mismatch";
    case Outcome::supplierNotInSession:
      return "supplier_not_in_session";
    case Outcome::badRingSignature:
      return "bad_ring_signature";
    case Outcome::rateLimited:
      return "rate_limited";
    case Outcome::chainUnavailable:
      return "chain_unavailable";
    case Outcome::backendUnreachable:
      return "backend_unreachable";
    case Outcome::backendTimeout:
      return "backend_timeout";
    case Outcome::backendTooLarge:
      return "backend_too_large";
    case Outcome::backendError:
      return "backend_error";
    case Outcome::internalError:
      return "internal_error";
  }
  return "internal_error";
}

unsigned outcomeStatus(Outcome outcome) {
  switch (outcome) {
    case Outcome::served:
      return 200;
    case Outcome::malformedRequest:
    case Outcome::invalidRequest:
    case Outcome::badRpcType:
    case Outcome::sessionNotCurrent:
    case Outcome::sessionExpired:
      return 400;
    case Outcome::requestTooLarge:
      return 413;
    case Outcome::unknownService:
      return 404;
    case Outcome::unknownSupplier:
    case Outcome::sessionNotFound:
    case Outcome::sessionMismatch:
    case Outcome::supplierNotInSession:
    case Outcome::badRingSignature:
      return 403;
    case Outcome::rateLimited:
      return 429;
    case Outcome::chainUnavailable:
      return 503;
    case Outcome::backendUnreachable:
    case Outcome::backendTooLarge:
    case Outcome::backendError:
      return 502;
    case Outcome::backendTimeout:
      return 504;
    case Outcome::internalError:
      return 500;
  }
  return 500;
}

std::string_view notMinedName(NotMined reason) {
  switch (reason) {
    case NotMined::difficultyNotMet:
      return "difficulty_not_met";
    case NotMined::backend5xx:
      return "backend_5xx";
    case NotMined::claimWindowOpen:
      return "claim_window_open";
    case NotMined::unverified:
      return "unverified";
    case NotMined::overBudget:
      return "over_budget";
    case NotMined::spoolFull:
      return "spool_full";
    case NotMined::spoolError:
      return "spool_error";
  }
  return "spool_error";
}

}  // namespace pocket::edge
