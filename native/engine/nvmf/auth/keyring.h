// An engine's file keyring, as SPDK's keyring_file module keeps one: a key has a name and
// stands for a file holding it (a DH-HMAC-CHAP secret, DHHC-1:..., or a TLS PSK,
// NVMeTLSkey-1:...), which only its owner may read or write (mode 0600 or stricter). The
// file is read each time the key is used, so the key lives in memory only while a
// connection is made with it, and no key needs to be written in a URI or a log: an nvmf
// URI's dhchap_key, dhchap_ctrlr_key and psk take a key's name. Thread-safe.
#pragma once
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nvmf/auth/key_format.h"
#include "nvmf/auth/secret_bytes.h"
#include "util/status.h"

namespace nds::nvmf::auth {

// Reads a key file: a regular file (not a symbolic link), mode 0600 or stricter (EPERM
// otherwise), at most 1 KiB; the text without its trailing newline. `what` names it in errors.
Status read_key_file(const std::string& path, const std::string& what, SecretBytes* text);

class Keyring {
 public:
  // EINVAL: a name outside [A-Za-z0-9_.:-]{1,64} or one a value could be mistaken for (a
  // key's own prefix or a path); a path not absolute. ENOENT, EPERM: the file as read_key_file
  // would refuse it now. EEXIST: the name is taken.
  Status add(const std::string& name, const std::string& path);
  Status remove(const std::string& name);  // ENOENT when there is no such key
  std::optional<std::string> path_of(const std::string& name) const;
  // The text of the named key, read from its file now. ENOENT for an unknown name, which
  // is not echoed (it may be a key with a mistyped prefix); file errors name the key.
  Status read(std::string_view name, SecretBytes* text) const;
  std::vector<std::pair<std::string, std::string>> list() const;  // (name, path), by name

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::string> paths_;
};

// A dhchap_key value: the secret itself (DHHC-1:...) or a key's name in `ring` (nullptr: no
// keyring), whose file holds the secret. ENOENT names an unknown key.
Status resolve_dhchap_secret(const Keyring* ring, std::string_view value, ParsedKey* out);

}  // namespace nds::nvmf::auth
