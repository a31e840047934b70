#include "common/protocol/relay.h"

#include <algorithm>
#include <string_view>

#include "common/crypto/ecdsa.h"
#include "common/protocol/proto_wire.h"

namespace pocket::protocol {
namespace {

using wire::Field;
using wire::Reader;
using wire::readFields;
using wire::WireType;
using wire::Writer;

// Which parts of a message a serialization leaves out (signable bytes, relay bytes).
struct Omit {
  bool signature = false;  // meta.signature / meta.supplier_operator_signature
  bool payload = false;    // RelayResponse.payload
};

// --- sizes ------------------------------------------------------------------------------------

std::size_t size(const SessionHeader& h) {
  return wire::bytesFieldSize(1, h.applicationAddress.size()) +
         wire::bytesFieldSize(2, h.serviceId.size()) + wire::bytesFieldSize(3, h.sessionId.size()) +
         wire::varintFieldSize(4, static_cast<std::uint64_t>(h.sessionStartBlockHeight)) +
         wire::varintFieldSize(5, static_cast<std::uint64_t>(h.sessionEndBlockHeight));
}

std::size_t optionalHeaderSize(const std::optional<SessionHeader>& h) {
  return h ? wire::lengthDelimitedSize(1, size(*h)) : 0;
}

std::size_t size(const RelayRequestMetadata& m, Omit omit) {
  return optionalHeaderSize(m.sessionHeader) +
         (omit.signature ? 0 : wire::bytesFieldSize(2, m.signature.size())) +
         wire::bytesFieldSize(3, m.supplierOperatorAddress.size());
}

std::size_t size(const RelayRequest& r, Omit omit) {
  return wire::lengthDelimitedSize(1, size(r.meta, omit)) +
         wire::bytesFieldSize(2, r.payload.size());
}

std::size_t size(const RelayMinerError& e) {
  return wire::bytesFieldSize(1, e.codespace.size()) + wire::varintFieldSize(2, e.code) +
         wire::bytesFieldSize(3, e.description.size()) + wire::bytesFieldSize(4, e.message.size());
}

std::size_t size(const RelayResponseMetadata& m, Omit omit) {
  return optionalHeaderSize(m.sessionHeader) +
         (omit.signature ? 0 : wire::bytesFieldSize(2, m.supplierOperatorSignature.size()));
}

std::size_t size(const RelayResponse& r, Omit omit) {
  return wire::lengthDelimitedSize(1, size(r.meta, omit)) +
         (omit.payload ? 0 : wire::bytesFieldSize(2, r.payload.size())) +
         (r.relayMinerError ? wire::lengthDelimitedSize(3, size(*r.relayMinerError)) : 0) +
         wire::bytesFieldSize(4, r.payloadHash.size());
}

// --- writers ----------------------------------------------------------------------------------

void write(Writer& w, const SessionHeader& h) {
  w.stringField(1, h.applicationAddress);
  w.stringField(2, h.serviceId);
  w.stringField(3, h.sessionId);
  w.int64Field(4, h.sessionStartBlockHeight);
  w.int64Field(5, h.sessionEndBlockHeight);
}

void writeOptionalHeader(Writer& w, const std::optional<SessionHeader>& h) {
  if (!h) return;
  w.messageHeader(1, size(*h));
  write(w, *h);
}

void write(Writer& w, const RelayRequestMetadata& m, Omit omit) {
  writeOptionalHeader(w, m.sessionHeader);
  if (!omit.signature) w.bytesField(2, m.signature);
  w.stringField(3, m.supplierOperatorAddress);
}

void write(Writer& w, const RelayRequest& r, Omit omit) {
  w.messageHeader(1, size(r.meta, omit));
  write(w, r.meta, omit);
  w.bytesField(2, r.payload);
}

void write(Writer& w, const RelayMinerError& e) {
  w.stringField(1, e.codespace);
  w.varintField(2, e.code);
  w.stringField(3, e.description);
  w.stringField(4, e.message);
}

void write(Writer& w, const RelayResponseMetadata& m, Omit omit) {
  writeOptionalHeader(w, m.sessionHeader);
  if (!omit.signature) w.bytesField(2, m.supplierOperatorSignature);
}

void write(Writer& w, const RelayResponse& r, Omit omit) {
  w.messageHeader(1, size(r.meta, omit));
  write(w, r.meta, omit);
  if (!omit.payload) w.bytesField(2, r.payload);
  if (r.relayMinerError) {
    w.messageHeader(3, size(*r.relayMinerError));
    write(w, *r.relayMinerError);
  }
  w.bytesField(4, r.payloadHash);
}

util::Bytes encodeRequest(const RelayRequest& r, Omit omit) {
  util::Bytes out;
  out.reserve(size(r, omit));
  Writer w(out);
  write(w, r, omit);
  return out;
}

util::Bytes encodeResponse(const RelayResponse& r, Omit omit) {
  util::Bytes out;
  out.reserve(size(r, omit));
  Writer w(out);
  write(w, r, omit);
  return out;
}

util::Bytes encodeRelay(const RelayRequest* req, const RelayResponse* res, Omit resOmit) {
  std::size_t reqSize = req ? size(*req, Omit{}) : 0;
  std::size_t resSize = res ? size(*res, resOmit) : 0;
  util::Bytes out;
  out.reserve((req ? wire::lengthDelimitedSize(1, reqSize) : 0) +
              (res ? wire::lengthDelimitedSize(2, resSize) : 0));
  Writer w(out);
  if (req) {
    w.messageHeader(1, reqSize);
    write(w, *req, Omit{});
  }
  if (res) {
    w.messageHeader(2, resSize);
    write(w, *res, resOmit);
  }
  return out;
}

// --- readers ----------------------------------------------------------------------------------
// Each decodeX merges the fields of `bytes` into `out`, as gogoproto's Unmarshal does.

std::string toString(util::ByteSpan b) {
  return std::string(util::asChars(b));
}
util::Bytes toBytes(util::ByteSpan b) {
  return util::Bytes(b.begin(), b.end());
}

util::Status decode(util::ByteSpan bytes, SessionHeader& out, std::string_view context) {
  return readFields(bytes, context, [&](Reader& r, const Field& f) -> std::optional<util::Error> {
    switch (f.number) {
      case 1:
      case 2:
      case 3: {
        if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
        std::string& s = f.number == 1   ? out.applicationAddress
                         : f.number == 2 ? out.serviceId
                                         : out.sessionId;
        s = toString(f.bytes);
        return std::nullopt;
      }
      case 4:
      case 5: {
        if (f.type != WireType::varint) return r.wrongWireType(f);
        auto v = static_cast<std::int64_t>(f.value);
        (f.number == 4 ? out.sessionStartBlockHeight : out.sessionEndBlockHeight) = v;
        return std::nullopt;
      }
      default:
        return std::nullopt;
    }
  });
}

std::optional<util::Error> decodeHeaderField(Reader& r, const Field& f,
                                             std::optional<SessionHeader>& header,
                                             std::string_view context) {
  if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
  if (!header) header.emplace();
  auto status = decode(f.bytes, *header, context);
  if (!status) return status.error();
  return std::nullopt;
}

util::Status decode(util::ByteSpan bytes, RelayRequestMetadata& out) {
  constexpr std::string_view kContext = "RelayRequest.meta";
  return readFields(bytes, kContext, [&](Reader& r, const Field& f) -> std::optional<util::Error> {
    switch (f.number) {
      case 1:
        return decodeHeaderField(r, f, out.sessionHeader, "RelayRequest.meta.session_header");
      case 2:
        if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
        out.signature = toBytes(f.bytes);
        return std::nullopt;
      case 3:
        if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
        out.supplierOperatorAddress = toString(f.bytes);
        return std::nullopt;
      default:
        return std::nullopt;
    }
  });
}

util::Status decode(util::ByteSpan bytes, RelayRequest& out) {
  return readFields(bytes, "RelayRequest",
                    [&](Reader& r, const Field& f) -> std::optional<util::Error> {
                      switch (f.number) {
                        case 1: {
                          if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
                          auto status = decode(f.bytes, out.meta);
                          if (!status) return status.error();
                          return std::nullopt;
                        }
                        case 2:
                          if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
                          out.payload = toBytes(f.bytes);
                          return std::nullopt;
                        default:
                          return std::nullopt;
                      }
                    });
}

util::Status decode(util::ByteSpan bytes, RelayMinerError& out) {
  return readFields(bytes, "RelayResponse.relay_miner_error",
                    [&](Reader& r, const Field& f) -> std::optional<util::Error> {
                      switch (f.number) {
                        case 1:
                        case 3:
                        case 4: {
                          if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
                          std::string& s = f.number == 1   ? out.codespace
                                           : f.number == 3 ? out.description
                                                           : out.message;
                          s = toString(f.bytes);
                          return std::nullopt;
                        }
                        case 2:
                          if (f.type != WireType::varint) return r.wrongWireType(f);
                          out.code = static_cast<std::uint32_t>(f.value);
                          return std::nullopt;
                        default:
                          return std::nullopt;
                      }
                    });
}

util::Status decode(util::ByteSpan bytes, RelayResponseMetadata& out) {
  return readFields(
      bytes, "RelayResponse.meta", [&](Reader& r, const Field& f) -> std::optional<util::Error> {
        switch (f.number) {
          case 1:
            return decodeHeaderField(r, f, out.sessionHeader, "RelayResponse.meta.session_header");
          case 2:
            if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
            out.supplierOperatorSignature = toBytes(f.bytes);
            return std::nullopt;
          default:
            return std::nullopt;
        }
      });
}

util::Status decode(util::ByteSpan bytes, RelayResponse& out) {
  return readFields(bytes, "RelayResponse",
                    [&](Reader& r, const Field& f) -> std::optional<util::Error> {
                      if (f.number >= 1 && f.number <= 4 && f.type != WireType::lengthDelimited) {
                        return r.wrongWireType(f);
                      }
                      switch (f.number) {
                        case 1: {
                          auto status = decode(f.bytes, out.meta);
                          if (!status) return status.error();
                          return std::nullopt;
                        }
                        case 2:
                          out.payload = toBytes(f.bytes);
                          return std::nullopt;
                        case 3: {
                          if (!out.relayMinerError) out.relayMinerError.emplace();
                          auto status = decode(f.bytes, *out.relayMinerError);
                          if (!status) return status.error();
                          return std::nullopt;
                        }
                        case 4:
                          out.payloadHash = toBytes(f.bytes);
                          return std::nullopt;
                        default:
                          return std::nullopt;
                      }
                    });
}

util::Status decode(util::ByteSpan bytes, Relay& out) {
  return readFields(bytes, "Relay", [&](Reader& r, const Field& f) -> std::optional<util::Error> {
    if (f.number == 1 || f.number == 2) {
      if (f.type != WireType::lengthDelimited) return r.wrongWireType(f);
      util::Status status = util::Ok{};
      if (f.number == 1) {
        if (!out.req) out.req.emplace();
        status = decode(f.bytes, *out.req);
      } else {
        if (!out.res) out.res.emplace();
        status = decode(f.bytes, *out.res);
      }
      if (!status) return status.error();
    }
    return std::nullopt;
  });
}

template <class T>
util::Result<T> parse(util::ByteSpan bytes) {
  T out;
  auto status = decode(bytes, out);
  if (!status) return status.error();
  return out;
}

}  // namespace

util::Result<SessionHeader> parseSessionHeader(util::ByteSpan bytes) {
  SessionHeader out;
  auto status = decode(bytes, out, "SessionHeader");
  if (!status) return status.error();
  return out;
}

util::Result<RelayRequest> parseRelayRequest(util::ByteSpan bytes) {
  return parse<RelayRequest>(bytes);
}
util::Result<RelayResponse> parseRelayResponse(util::ByteSpan bytes) {
  return parse<RelayResponse>(bytes);
}
util::Result<Relay> parseRelay(util::ByteSpan bytes) {
  return parse<Relay>(bytes);
}

util::Bytes marshal(const SessionHeader& header) {
  util::Bytes out;
  out.reserve(size(header));
  Writer w(out);
  write(w, header);
  return out;
}

util::Bytes marshal(const RelayRequest& request) {
  return encodeRequest(request, Omit{});
}
util::Bytes marshal(const RelayResponse& response) {
  return encodeResponse(response, Omit{});
}

util::Bytes marshal(const Relay& relay) {
  return encodeRelay(relay.req ? &*relay.req : nullptr, relay.res ? &*relay.res : nullptr, Omit{});
}

util::Bytes requestSignableBytes(const RelayRequest& request) {
  return encodeRequest(request, Omit{.signature = true});
}

crypto::Hash32 requestSignableHash(const RelayRequest& request) {
  return crypto::sha256(requestSignableBytes(request));
}

util::Bytes responseSignableBytes(const RelayResponse& response) {
  return encodeResponse(response,
                        Omit{.signature = true, .payload = !response.payloadHash.empty()});
}

crypto::Hash32 responseSignableHash(const RelayResponse& response) {
  return crypto::sha256(responseSignableBytes(response));
}

crypto::Hash32 payloadHash(util::ByteSpan payload) {
  return crypto::sha256(payload);
}

util::Bytes relayBytes(const RelayRequest& request, const RelayResponse& response) {
  return encodeRelay(&request, &response, Omit{.payload = true});
}

crypto::Hash32 relayHash(util::ByteSpan relayBytes) {
  return crypto::sha256(relayBytes);
}

bool meetsDifficulty(const crypto::Hash32& relayHash, util::ByteSpan targetHash) {
  return std::lexicographical_compare(relayHash.begin(), relayHash.end(), targetHash.begin(),
                                      targetHash.end());
}

void signResponse(RelayResponse& response, const crypto::PrivateKey& supplierKey) {
  auto hash = payloadHash(response.payload);
  response.payloadHash.assign(hash.begin(), hash.end());
  auto signature = crypto::signCosmos(supplierKey, responseSignableHash(response));
  response.meta.supplierOperatorSignature.assign(signature.begin(), signature.end());
}

bool verifyResponseSignature(const RelayResponse& response, const crypto::PublicKey& supplierKey) {
  return crypto::verifyCosmos(supplierKey, responseSignableHash(response),
                              response.meta.supplierOperatorSignature);
}

}  // namespace pocket::protocol
