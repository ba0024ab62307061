#include "nvmf/auth/keyring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace nds::nvmf::auth {

namespace {
constexpr size_t kMaxKeyFile = 1024;  // the longest key form (a 64-byte secret) is ~100 characters

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-';
  });
}

// A value starting so is a key (or a path), never a name: the URI tells them apart by this.
bool looks_like_a_key(std::string_view value) {
  return value.substr(0, 7) == "DHHC-1:" || value.substr(0, 13) == "NVMeTLSkey-1:" || value.substr(0, 1) == "/";
}
}  // namespace

Status read_key_file(const std::string& path, const std::string& what, SecretBytes* text) {
  // O_NONBLOCK: a FIFO or a device named by mistake must not hang the caller (regular
  // files ignore it); O_NOFOLLOW: a key file is not a symbolic link.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return Status::error(-errno, what + " " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(-EINVAL, what + " " + path + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return Status::error(-EPERM, what + " " + path + " is readable or writable by others: it must be mode 0600");
  }
  SecretBytes buffer(kMaxKeyFile + 1);
  ssize_t n = ::read(fd, buffer.data(), buffer.size());
  int err = errno;
  ::close(fd);
  if (n < 0) return Status::error(-err, what + " " + path + ": " + std::strerror(err));
  size_t length = static_cast<size_t>(n);
  if (length > kMaxKeyFile) return Status::error(-EINVAL, what + " " + path + " is larger than a key (1 KiB)");
  while (length > 0 && (buffer.data()[length - 1] == '\n' || buffer.data()[length - 1] == '\r')) --length;
  *text = SecretBytes(buffer.data(), length);
  return Status::ok();
}

Status Keyring::add(const std::string& name, const std::string& path) {
  // The name is not echoed: a key given by mistake as the name would be.
  if (!valid_name(name) || looks_like_a_key(name))
    return Status::error(-EINVAL, "a key name is 1 to 64 of A-Z a-z 0-9 _ . : - and does not start with DHHC-1:, NVMeTLSkey-1: or /");
  if (path.empty() || path[0] != '/') return Status::error(-EINVAL, "key " + name + ": the path must be absolute, got '" + path + "'");
  SecretBytes text;
  Status st = read_key_file(path, "key " + name + ":", &text);  // refused now, not at first use
  if (!st.is_ok()) return st;
  std::lock_guard lock(mutex_);
  if (!paths_.emplace(name, path).second) return Status::error(-EEXIST, "key " + name + " already exists");
  return Status::ok();
}

Status Keyring::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (paths_.erase(name) == 0) return Status::error(-ENOENT, "no key named " + name + " in the keyring");
  return Status::ok();
}

std::optional<std::string> Keyring::path_of(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = paths_.find(name);
  if (it == paths_.end()) return std::nullopt;
  return it->second;
}

Status Keyring::read(std::string_view name, SecretBytes* text) const {
  const std::optional<std::string> path = path_of(std::string(name));
  if (!path) return Status::error(-ENOENT, "not a key name in the keyring, nor a key (DHHC-1:..., NVMeTLSkey-1:...) or a key file's absolute path");
  return read_key_file(*path, "key " + std::string(name) + ":", text);
}

std::vector<std::pair<std::string, std::string>> Keyring::list() const {
  std::lock_guard lock(mutex_);
  return {paths_.begin(), paths_.end()};
}

Status resolve_dhchap_secret(const Keyring* ring, std::string_view value, ParsedKey* out) {
  if (!ring || value.substr(0, 7) == "DHHC-1:") return parse_dhchap_secret(value, out);
  SecretBytes text;
  Status st = ring->read(value, &text);
  if (!st.is_ok()) return st;
  st = parse_dhchap_secret(text.view(), out);
  if (!st.is_ok()) return Status::error(st.rc, "key " + std::string(value) + ": " + st.message);
  return Status::ok();
}

}  // namespace nds::nvmf::auth
