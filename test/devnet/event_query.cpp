#include "test/devnet/event_query.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

namespace pocket::devnet {
namespace {

util::Error bad(std::string_view text, std::size_t at, std::string_view why) {
  return util::makeError(
      std::string(kErrorBadQuery),
      fmt::format("failed to parse query \"{}\": at position {}: {}", text, at + 1, why));
}

bool keyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-' ||
         c == '/';
}

bool parseNumber(std::string_view s, double& out) {
  if (s.empty()) return false;
  std::string copy(s);
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size();
}

}  // namespace

util::Result<EventQuery> EventQuery::parse(std::string_view text) {
  EventQuery query;
  query.text_ = std::string(text);
  std::size_t i = 0;
  auto skipSpace = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0) ++i;
  };
  skipSpace();
  if (i == text.size()) return bad(text, i, "empty query");
  while (true) {
    skipSpace();
    std::size_t keyStart = i;
    while (i < text.size() && keyChar(text[i])) ++i;
    if (i == keyStart) return bad(text, i, "expected a composite key");
    Condition condition;
    condition.key = std::string(text.substr(keyStart, i - keyStart));
    skipSpace();
    auto rest = text.substr(i);
    if (rest.starts_with("<=")) {
      condition.op = Op::le, i += 2;
    } else if (rest.starts_with(">=")) {
      condition.op = Op::ge, i += 2;
    } else if (rest.starts_with("=")) {
      condition.op = Op::eq, i += 1;
    } else if (rest.starts_with("<")) {
      condition.op = Op::lt, i += 1;
    } else if (rest.starts_with(">")) {
      condition.op = Op::gt, i += 1;
    } else if (rest.starts_with("CONTAINS")) {
      condition.op = Op::contains, i += 8;
    } else if (rest.starts_with("EXISTS")) {
      condition.op = Op::exists, i += 6;
    } else {
      return bad(text, i, "expected an operator (=, <, <=, >, >=, CONTAINS, EXISTS)");
    }
    if (condition.op != Op::exists) {
      skipSpace();
      if (i < text.size() && text[i] == '\'') {
        std::size_t close = text.find('\'', i + 1);
        if (close == std::string_view::npos) return bad(text, i, "unterminated string");
        condition.text = std::string(text.substr(i + 1, close - i - 1));
        i = close + 1;
      } else {
        std::size_t start = i;
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) == 0) ++i;
        if (!parseNumber(text.substr(start, i - start), condition.number)) {
          return bad(text, start, "expected a 'quoted string' or a number");
        }
        condition.numeric = true;
        if (condition.op == Op::contains) return bad(text, start, "CONTAINS needs a string");
      }
    }
    query.conditions_.push_back(std::move(condition));
    skipSpace();
    if (i == text.size()) break;
    if (text.substr(i).starts_with("AND") && i + 3 < text.size() &&
        std::isspace(static_cast<unsigned char>(text[i + 3])) != 0) {
      i += 3;
      continue;
    }
    return bad(text, i, "expected AND or the end of the query");
  }
  return query;
}

bool EventQuery::holds(const Condition& condition, const std::string& value) {
  switch (condition.op) {
    case Op::exists:
      return true;
    case Op::contains:
      return value.find(condition.text) != std::string::npos;
    default:
      break;
  }
  if (condition.numeric) {
    double number = 0;
    if (!parseNumber(value, number)) return false;
    switch (condition.op) {
      case Op::eq:
        return number == condition.number;
      case Op::lt:
        return number < condition.number;
      case Op::le:
        return number <= condition.number;
      case Op::gt:
        return number > condition.number;
      case Op::ge:
        return number >= condition.number;
      default:
        return false;
    }
  }
  switch (condition.op) {
    case Op::eq:
      return value == condition.text;
    case Op::lt:
      return value < condition.text;
    case Op::le:
      return value <= condition.text;
    case Op::gt:
      return value > condition.text;
    case Op::ge:
      return value >= condition.text;
    default:
      return false;
  }
}

bool EventQuery::matches(const EventMap& events) const {
  for (const Condition& condition : conditions_) {
    auto it = events.find(condition.key);
    if (it == events.end()) return false;
    bool any = false;
    for (const std::string& value : it->second) {
      if (holds(condition, value)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  return true;
}

std::string EventQuery::eventType() const {
  for (const Condition& condition : conditions_) {
    if (condition.key == "tm.event" && condition.op == Op::eq) return condition.text;
  }
  return {};
}

}  // namespace pocket::devnet
