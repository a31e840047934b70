#pragma once
// CURVE key pairs and key files for the edge <-> session-manager link (docs/link.md, "Encryption and keys").
//
// Keys are Z85 text (40 characters for 32 bytes), as libzmq takes them. A key file holds
// `name = value` lines; blank lines and lines starting with '#' are ignored:
//   key pair file:    public-key = <z85>   and   secret-key = <z85>
//   public key file:  public-key = <z85>
//   allow-list file:  one z85 public key per line (the edges a session manager accepts)
// Every key file must be readable by its owner only (no group or other permission bits); loading
// refuses anything else, like every other key file of the project. Keys are never logged: log
// `keyFingerprint()` instead.
//
// Value types and free functions; thread-safe. Malformed files and bad permissions are logistics
// errors: they throw std::runtime_error naming the file and the reason.

#include <string>
#include <string_view>
#include <vector>

namespace pocket::net {

struct CurveKeyPair {
  std::string publicKey;  // z85, 40 characters
  std::string secretKey;  // z85, 40 characters
};

// Throws std::runtime_error when libzmq was built without CURVE.
CurveKeyPair generateCurveKeyPair();

// True iff `z85` is 40 Z85 characters that decode to 32 bytes.
bool isValidZ85Key(std::string_view z85);

// The first 8 characters of a public key: enough to tell keys apart in logs.
std::string keyFingerprint(std::string_view publicKeyZ85);

// Writes a key pair file (mode 0600, replaced atomically). Throws on I/O failure.
void writeCurveKeyPairFile(const std::string& path, const CurveKeyPair& keys);
// Writes a public key file (mode 0600).
void writeCurvePublicKeyFile(const std::string& path, std::string_view publicKeyZ85);
// Writes an allow-list file (mode 0600).
void writeCurveAllowListFile(const std::string& path, const std::vector<std::string>& publicKeys);

// Loaders. Throw std::runtime_error naming the file on permissions other than owner-only, a
// missing or malformed key, a key pair whose public key is not the secret key's, or I/O failure.
CurveKeyPair loadCurveKeyPairFile(const std::string& path);
std::string loadCurvePublicKeyFile(const std::string& path);
std::vector<std::string> loadCurveAllowListFile(const std::string& path);

// Throws std::runtime_error unless `path` is a regular file without group or other permission
// bits. Used by every key loader.
void requireOwnerOnlyFile(const std::string& path);

}  // namespace pocket::net
