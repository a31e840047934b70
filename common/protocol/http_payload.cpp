#include "common/protocol/http_payload.h"

#include <algorithm>
#include <optional>

#include "common/protocol/proto_wire.h"

namespace pocket::protocol {
namespace {

using wire::Field;
using wire::Reader;
using wire::readFields;
using wire::WireType;
using wire::Writer;

// --- POKTHTTP codec ---------------------------------------------------------------------------

std::size_t headerValueSize(const std::string& key, const std::vector<std::string>& values) {
  std::size_t n = wire::bytesFieldSize(1, key.size());
  for (const auto& v : values) n += wire::lengthDelimitedSize(2, v.size());
  return n;
}

// Map entry {1: key (always written), 2: Header{1: key, 2: values} (always written)}.
std::size_t entrySize(const std::string& key, const std::vector<std::string>& values) {
  return wire::lengthDelimitedSize(1, key.size()) +
         wire::lengthDelimitedSize(2, headerValueSize(key, values));
}

std::size_t headersSize(std::uint32_t field, const HttpHeaders& headers) {
  std::size_t n = 0;
  for (const auto& [key, values] : headers) {
    n += wire::lengthDelimitedSize(field, entrySize(key, values));
  }
  return n;
}

void writeHeaders(Writer& w, std::uint32_t field, const HttpHeaders& headers) {
  for (const auto& [key, values] : headers) {  // std::map: sorted bytewise, as Go sorts string keys
    w.messageHeader(field, entrySize(key, values));
    w.messageHeader(1, key.size());
    w.raw(util::asBytes(key));
    w.messageHeader(2, headerValueSize(key, values));
    w.stringField(1, key);
    for (const auto& v : values) {
      w.messageHeader(2, v.size());
      w.raw(util::asBytes(v));
    }
  }
}

std::optional<util::Error> decodeHeaderEntry(util::ByteSpan bytes, HttpHeaders& out,
                                             std::string_view context) {
  std::string key;
  std::vector<std::string> values;
  auto entry =
      readFields(bytes, context, [&](Reader& r, const Field& f) -> std::optional<util::Error> {
        if (f.number == 1) {
          if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
          key = std::string(util::asChars(f.bytes));
        } else if (f.number == 2) {
          if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
          values.clear();  // a repeated map value replaces the earlier one
          auto header = readFields(f.bytes, context,
                                   [&](Reader& hr, const Field& hf) -> std::optional<util::Error> {
                                     if (hf.number != 1 && hf.number != 2) return std::nullopt;
                                     if (hf.type != WireType::lengthDelimited) {
                                       return hr.wrongWireType(hf);
                                     }
                                     if (hf.number == 2) {
                                       values.emplace_back(util::asChars(hf.bytes));
                                     }
                                     return std::nullopt;
                                   });
          if (!header) return header.error();
        }
        return std::nullopt;
      });
  if (!entry) return entry.error();
  out[key] = std::move(values);
  return std::nullopt;
}

}  // namespace

util::Bytes marshal(const PoktHttpRequest& request) {
  util::Bytes out;
  out.reserve(wire::bytesFieldSize(1, request.method.size()) + headersSize(2, request.header) +
              wire::bytesFieldSize(3, request.url.size()) +
              wire::bytesFieldSize(4, request.body.size()));
  Writer w(out);
  w.stringField(1, request.method);
  writeHeaders(w, 2, request.header);
  w.stringField(3, request.url);
  w.bytesField(4, request.body);
  return out;
}

util::Bytes marshal(const PoktHttpResponse& response) {
  util::Bytes out;
  out.reserve(wire::varintFieldSize(1, response.statusCode) + headersSize(2, response.header) +
              wire::bytesFieldSize(3, response.body.size()));
  Writer w(out);
  w.varintField(1, response.statusCode);
  writeHeaders(w, 2, response.header);
  w.bytesField(3, response.body);
  return out;
}

util::Result<PoktHttpRequest> parsePoktHttpRequest(util::ByteSpan bytes) {
  PoktHttpRequest out;
  constexpr std::string_view kContext = "POKTHTTPRequest";
  auto status =
      readFields(bytes, kContext, [&](Reader& r, const Field& f) -> std::optional<util::Error> {
        if (f.number < 1 || f.number > 4) return std::nullopt;
        if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
        switch (f.number) {
          case 1:
            out.method = std::string(util::asChars(f.bytes));
            return std::nullopt;
          case 2:
            return decodeHeaderEntry(f.bytes, out.header, "POKTHTTPRequest.header");
          case 3:
            out.url = std::string(util::asChars(f.bytes));
            return std::nullopt;
          default:
            out.body.assign(f.bytes.begin(), f.bytes.end());
            return std::nullopt;
        }
      });
  if (!status) return status.error();
  return out;
}

util::Result<PoktHttpResponse> parsePoktHttpResponse(util::ByteSpan bytes) {
  PoktHttpResponse out;
  constexpr std::string_view kContext = "POKTHTTPResponse";
  auto status =
      readFields(bytes, kContext, [&](Reader& r, const Field& f) -> std::optional<util::Error> {
        switch (f.number) {
          case 1:
            if (f.type != WireType::varint) return r.wrongWireType(f);
            out.statusCode = static_cast<std::uint32_t>(f.value);
            return std::nullopt;
          case 2:
            if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
            return decodeHeaderEntry(f.bytes, out.header, "POKTHTTPResponse.header");
          case 3:
            if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
            out.body.assign(f.bytes.begin(), f.bytes.end());
            return std::nullopt;
          default:
            return std::nullopt;
        }
      });
  if (!status) return status.error();
  return out;
}

// --- URLs, as Go's net/url and path packages treat them -----------------------------------------

namespace {

enum class Encoding { path, queryComponent };

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// net/url shouldEscape for the two modes used here.
bool shouldEscape(unsigned char c, Encoding mode) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return false;
  switch (c) {
    case '-':
    case '_':
    case '.':
    case '~':
      return false;
    case '$':
    case '&':
    case '+':
    case ',':
    case '/':
    case ':':
    case ';':
    case '=':
    case '?':
    case '@':
      return mode == Encoding::path ? c == '?' : true;
    default:
      return true;
  }
}

std::string escape(std::string_view s, Encoding mode) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (!shouldEscape(c, mode)) {
      out += ch;
    } else if (c == ' ' && mode == Encoding::queryComponent) {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> unescape(std::string_view s, Encoding mode) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      if (!isHex(s[i + 1]) || !isHex(s[i + 2])) return std::nullopt;
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else if (s[i] == '+' && mode == Encoding::queryComponent) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

// net/url validEncoded(s, encodePath).
bool validEncodedPath(std::string_view s) {
  for (char ch : s) {
    switch (ch) {
      case '!':
      case '$':
      case '&':
      case '\'':
      case '(':
      case ')':
      case '*':
      case '+':
      case ',':
      case ';':
      case '=':
      case ':':
      case '@':
      case '[':
      case ']':
      case '%':
        continue;
      default:
        if (shouldEscape(static_cast<unsigned char>(ch), Encoding::path)) return false;
    }
  }
  return true;
}

// Go path.Clean.
std::string cleanPath(std::string_view p) {
  if (p.empty()) return ".";
  bool rooted = p[0] == '/';
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view part = p.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out = rooted ? "/" : "";
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out += '/';
    out += parts[k];
  }
  if (out.empty()) return ".";
  return out;
}

// Go path.Join(a, b).
std::string joinPath(std::string_view a, std::string_view b) {
  if (a.empty() && b.empty()) return "";
  std::string joined(a);
  if (!a.empty() && !b.empty()) joined += '/';
  joined += b;
  return cleanPath(joined);
}

struct ParsedUrl {
  std::string scheme;
  std::string host;
  std::string path;     // unescaped
  std::string rawPath;  // the escaped form when it differs from escape(path)
  std::string rawQuery;
  bool forceQuery = false;
};

util::Error badUrl(std::string_view which, std::string_view url, std::string_view why) {
  return util::makeError(
      "bad_url", std::string(which) + " URL \"" + std::string(url) + "\": " + std::string(why));
}

// Go url.Parse, keeping what the backend target needs.
util::Result<ParsedUrl> parseUrl(std::string_view which, std::string_view raw) {
  for (char c : raw) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return badUrl(which, raw, "invalid control character");
    }
  }
  std::string_view rest = raw.substr(0, std::min(raw.find('#'), raw.size()));
  ParsedUrl url;
  // Scheme: a letter, then letters, digits, '+', '-', '.', ended by ':'.
  for (std::size_t i = 0; i < rest.size(); ++i) {
    char c = rest[i];
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter) continue;
    if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
      if (i == 0) break;
      continue;
    }
    if (c == ':') {
      if (i == 0) return badUrl(which, raw, "missing protocol scheme");
      url.scheme = std::string(rest.substr(0, i));
      std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(), [](char ch) {
        return static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
      });
      rest = rest.substr(i + 1);
    }
    break;
  }
  if (!rest.empty() && rest.back() == '?' && std::count(rest.begin(), rest.end(), '?') == 1) {
    url.forceQuery = true;
    rest.remove_suffix(1);
  } else if (auto q = rest.find('?'); q != std::string_view::npos) {
    url.rawQuery = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  if (!rest.starts_with('/')) {
    if (!url.scheme.empty()) return badUrl(which, raw, "opaque URLs are not supported");
    auto colon = rest.find(':');
    if (colon != std::string_view::npos && colon < rest.find('/')) {
      return badUrl(which, raw, "first path segment in URL cannot contain colon");
    }
  }
  if ((!url.scheme.empty() || !rest.starts_with("///")) && rest.starts_with("//")) {
    std::string_view authority = rest.substr(2);
    auto slash = authority.find('/');
    rest = slash == std::string_view::npos ? std::string_view() : authority.substr(slash);
    authority = authority.substr(0, std::min(slash, authority.size()));
    auto at = authority.rfind('@');
    url.host = std::string(at == std::string_view::npos ? authority : authority.substr(at + 1));
  }
  auto path = unescape(rest, Encoding::path);
  if (!path) return badUrl(which, raw, "invalid URL escape in the path");
  url.path = std::move(*path);
  if (escape(url.path, Encoding::path) != rest) url.rawPath = std::string(rest);
  return url;
}

// Go url.ParseQuery, silently skipping the pairs it reports as errors (URL.Query() ignores them).
void parseQuery(std::string_view query, std::map<std::string, std::vector<std::string>>& out) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.find(';') != std::string_view::npos || pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = unescape(pair.substr(0, eq), Encoding::queryComponent);
    auto value = unescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1),
                          Encoding::queryComponent);
    if (!key || !value) continue;
    out[*key].push_back(std::move(*value));
  }
}

}  // namespace

util::Result<BackendTarget> buildBackendTarget(std::string_view backendUrl,
                                               std::string_view requestUrl) {
  auto backend = parseUrl("backend", backendUrl);
  if (!backend) return backend.error();
  if (backend->scheme.empty() || backend->host.empty()) {
    return badUrl("backend", backendUrl, "needs a scheme and a host");
  }
  auto request = parseUrl("request", requestUrl);
  if (!request) return request.error();

  std::string path = joinPath(backend->path, request->path);
  std::string target;
  // URL.EscapedPath: the request's raw path when it still spells the (joined) path, else escape().
  if (!request->rawPath.empty() && validEncodedPath(request->rawPath) &&
      unescape(request->rawPath, Encoding::path) == path) {
    target = request->rawPath;
  } else {
    target = escape(path, Encoding::path);
  }
  if (target.empty() || target[0] != '/') target.insert(target.begin(), '/');

  std::map<std::string, std::vector<std::string>> query;
  parseQuery(request->rawQuery, query);
  std::map<std::string, std::vector<std::string>> backendQuery;
  parseQuery(backend->rawQuery, backendQuery);
  for (auto& [key, values] : backendQuery) {
    auto& into = query[key];
    into.insert(into.end(), values.begin(), values.end());
  }
  std::string encoded;
  for (const auto& [key, values] : query) {
    std::string escapedKey = escape(key, Encoding::queryComponent);
    for (const auto& value : values) {
      if (!encoded.empty()) encoded += '&';
      encoded += escapedKey;
      encoded += '=';
      encoded += escape(value, Encoding::queryComponent);
    }
  }
  if (!encoded.empty() || request->forceQuery) {
    target += '?';
    target += encoded;
  }
  return BackendTarget{backend->scheme, backend->host, std::move(target)};
}

}  // namespace pocket::protocol
