#pragma once
// CometBFT's event query language, the subset subscribe and tx_search use: conditions joined by
// AND, each `composite.key OP operand` with OP one of = < <= > >= CONTAINS, or `key EXISTS`;
// operands are 'single-quoted strings' or numbers. Events are matched as CometBFT does: a
// condition holds when any value recorded under its key satisfies it.
//
// Value type; parsing and matching are pure and thread-safe. A malformed query is a util::Error
// (kErrorBadQuery) naming the position and the reason.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/util/result.h"

namespace pocket::devnet {

inline constexpr std::string_view kErrorBadQuery = "bad_query";

// "<event type>.<attribute key>" (and tm.event, tx.hash, tx.height) → every value seen.
using EventMap = std::map<std::string, std::vector<std::string>>;

class EventQuery {
 public:
  static util::Result<EventQuery> parse(std::string_view text);

  bool matches(const EventMap& events) const;
  const std::string& text() const { return text_; }
  // The value of a `tm.event='X'` condition, empty when there is none.
  std::string eventType() const;

 private:
  enum class Op { eq, lt, le, gt, ge, contains, exists };
  struct Condition {
    std::string key;
    Op op = Op::eq;
    bool numeric = false;
    std::string text;   // string operand
    double number = 0;  // numeric operand
  };
  static bool holds(const Condition& condition, const std::string& value);

  std::string text_;
  std::vector<Condition> conditions_;
};

}  // namespace pocket::devnet
