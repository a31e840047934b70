#include "common/net/curve_keys.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

namespace pocket::net {
namespace {

// strerror is not thread-safe; the GNU strerror_r is.
std::string errnoText(int err) {
  char buffer[128];
  return std::string(strerror_r(err, buffer, sizeof(buffer)));
}

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw std::runtime_error("key file " + path + ": " + why);
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

// The meaningful lines of a key file (comments and blank lines dropped), after the permission
// check.
std::vector<std::string> readKeyFileLines(const std::string& path) {
  requireOwnerOnlyFile(path);
  std::ifstream in(path);
  if (!in) fail(path, "cannot be opened");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    lines.push_back(std::move(t));
  }
  return lines;
}

// Finds `name = value` among the lines; empty when absent.
std::string findValue(const std::vector<std::string>& lines, std::string_view name) {
  for (const auto& line : lines) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    if (trim(std::string_view(line).substr(0, eq)) == name) return trim(line.substr(eq + 1));
  }
  return {};
}

void writeOwnerOnly(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(tmp, std::string("cannot be created: ") + errnoText(errno));
  ::fchmod(fd, 0600);  // O_CREAT does not change the mode of an existing file
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      fail(tmp, std::string("write failed: ") + errnoText(err));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) fail(tmp, "fsync or close failed");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    fail(path, std::string("rename failed: ") + errnoText(errno));
  }
}

}  // namespace

CurveKeyPair generateCurveKeyPair() {
  std::array<char, 41> pub{};
  std::array<char, 41> sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    throw std::runtime_error(std::string("CURVE key generation failed: ") +
                             zmq_strerror(zmq_errno()));
  }
  return CurveKeyPair{std::string(pub.data(), 40), std::string(sec.data(), 40)};
}

bool isValidZ85Key(std::string_view z85) {
  if (z85.size() != 40) return false;
  std::string text(z85);
  std::array<std::uint8_t, 32> raw{};
  return zmq_z85_decode(raw.data(), text.c_str()) != nullptr;
}

std::string keyFingerprint(std::string_view publicKeyZ85) {
  return std::string(publicKeyZ85.substr(0, 8));
}

void requireOwnerOnlyFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail(path, std::string("cannot be read: ") + errnoText(errno));
  if (!S_ISREG(st.st_mode)) fail(path, "is not a regular file");
  if ((st.st_mode & 077) != 0) {
    std::ostringstream mode;
    mode << std::oct << (st.st_mode & 0777);
    fail(path, "is readable by group or others (mode " + mode.str() +
                   "); key files must be owner-only: chmod 600 " + path);
  }
}

void writeCurveKeyPairFile(const std::string& path, const CurveKeyPair& keys) {
  if (!isValidZ85Key(keys.publicKey) || !isValidZ85Key(keys.secretKey)) {
    fail(path, "refusing to write a malformed key pair");
  }
  writeOwnerOnly(path,
                 "# CURVE key pair of the edge <-> session-manager link (z85)\npublic-key = " +
                     keys.publicKey + "\nsecret-key = " + keys.secretKey + "\n");
}

void writeCurvePublicKeyFile(const std::string& path, std::string_view publicKeyZ85) {
  if (!isValidZ85Key(publicKeyZ85)) fail(path, "refusing to write a malformed public key");
  writeOwnerOnly(path,
                 "# CURVE public key (z85)\npublic-key = " + std::string(publicKeyZ85) + "\n");
}

void writeCurveAllowListFile(const std::string& path, const std::vector<std::string>& publicKeys) {
  std::string content = "# CURVE public keys allowed on the link, one per line (z85)\n";
  for (const auto& key : publicKeys) {
    if (!isValidZ85Key(key)) fail(path, "refusing to write a malformed public key");
    content += key + "\n";
  }
  writeOwnerOnly(path, content);
}

CurveKeyPair loadCurveKeyPairFile(const std::string& path) {
  auto lines = readKeyFileLines(path);
  CurveKeyPair keys{findValue(lines, "public-key"), findValue(lines, "secret-key")};
  if (!isValidZ85Key(keys.publicKey)) fail(path, "missing or malformed public-key (40 z85 chars)");
  if (!isValidZ85Key(keys.secretKey)) fail(path, "missing or malformed secret-key (40 z85 chars)");
  std::array<char, 41> derived{};
  if (zmq_curve_public(derived.data(), keys.secretKey.c_str()) != 0) {
    fail(path, std::string("cannot derive the public key: ") + zmq_strerror(zmq_errno()));
  }
  if (keys.publicKey != std::string_view(derived.data(), 40)) {
    fail(path, "public-key does not belong to secret-key");
  }
  return keys;
}

std::string loadCurvePublicKeyFile(const std::string& path) {
  auto lines = readKeyFileLines(path);
  std::string key = findValue(lines, "public-key");
  if (!isValidZ85Key(key)) fail(path, "missing or malformed public-key (40 z85 chars)");
  return key;
}

std::vector<std::string> loadCurveAllowListFile(const std::string& path) {
  auto lines = readKeyFileLines(path);
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!isValidZ85Key(lines[i])) {
      fail(path, "entry " + std::to_string(i + 1) + " is not a 40-character z85 public key");
    }
    keys.push_back(lines[i]);
  }
  return keys;
}

}  // namespace pocket::net
