// The engine's file keyring: what it refuses to add (with the code), that a key is read
// from its file each time it is used (a changed or vanished file shows at once), and that
// a value that is neither a key nor a known name is refused without being echoed (it may
// be a secret with a mistyped prefix).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "nvmf/auth/keyring.h"
#include "nvmf/tls/tls_psk.h"
#include "test/key_file.h"
#include "test/testing.h"

using namespace nds;
using namespace nds::nvmf;

namespace {

// A 32-byte secret of `fill` bytes in the DHHC-1 / NVMeTLSkey-1 form.
std::string secret(const char* prefix, uint8_t fill) {
  auth::SecretBytes key(32);
  for (size_t i = 0; i < key.size(); ++i) key.data()[i] = static_cast<uint8_t>(fill + i);
  const std::string psk = auth::format_tls_psk(1, key);  // NVMeTLSkey-1:01:<base64>:
  return std::string(prefix) + psk.substr(std::string("NVMeTLSkey-1:01:").size());
}

using testing::KeyFile;

}  // namespace

NDS_TEST(keyring_refuses_bad_names_paths_and_files_with_codes) {
  auth::Keyring ring;
  KeyFile good(secret("DHHC-1:01:", 1), 0600), open_to_all(secret("DHHC-1:01:", 2), 0644);
  EXPECT_TRUE(ring.add("key0", good.path).is_ok());
  EXPECT_EQ(ring.add("key0", good.path).rc, -EEXIST);
  EXPECT_EQ(ring.add("", good.path).rc, -EINVAL);
  EXPECT_EQ(ring.add(std::string(65, 'k'), good.path).rc, -EINVAL);
  EXPECT_EQ(ring.add("key one", good.path).rc, -EINVAL);
  EXPECT_EQ(ring.add("key1", "relative/path").rc, -EINVAL);
  EXPECT_EQ(ring.add("key1", "/tmp/nds-keyring-no-such-file").rc, -ENOENT);
  Status st = ring.add("key1", open_to_all.path);
  EXPECT_EQ(st.rc, -EPERM);
  EXPECT_TRUE(st.message.find("must be mode 0600") != std::string::npos);
  EXPECT_EQ(ring.add("key1", "/tmp").rc, -EINVAL);  // not a regular file
  // A key given as the name by mistake: refused, and not repeated in the message.
  const std::string key_as_name = secret("DHHC-1:01:", 3);
  st = ring.add(key_as_name, good.path);
  EXPECT_EQ(st.rc, -EINVAL);
  EXPECT_TRUE(st.message.find(key_as_name.substr(10, 20)) == std::string::npos);
  const auto listed = ring.list();
  EXPECT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed.size() == 1 && listed[0].first == "key0" && listed[0].second == good.path);
  EXPECT_TRUE(ring.remove("key0").is_ok());
  EXPECT_EQ(ring.remove("key0").rc, -ENOENT);
  EXPECT_TRUE(ring.list().empty());
}

NDS_TEST(keyring_keys_are_read_at_use_and_unknown_values_are_not_echoed) {
  auth::Keyring ring;
  const std::string first = secret("DHHC-1:01:", 10), second = secret("DHHC-1:01:", 20);
  KeyFile file(first, 0600);
  EXPECT_TRUE(ring.add("host-key", file.path).is_ok());
  auth::ParsedKey by_name, by_value;
  EXPECT_TRUE(auth::resolve_dhchap_secret(&ring, "host-key", &by_name).is_ok());
  EXPECT_TRUE(auth::parse_dhchap_secret(first, &by_value).is_ok());
  EXPECT_TRUE(by_name.key == by_value.key);
  // The file changes: the next use reads the new key.
  file.rewrite(second);
  EXPECT_TRUE(auth::resolve_dhchap_secret(&ring, "host-key", &by_name).is_ok());
  EXPECT_TRUE(auth::parse_dhchap_secret(second, &by_value).is_ok());
  EXPECT_TRUE(by_name.key == by_value.key);
  // A file that holds something else: EINVAL naming the key, not the text.
  file.rewrite("not a key");
  Status st = auth::resolve_dhchap_secret(&ring, "host-key", &by_name);
  EXPECT_EQ(st.rc, -EINVAL);
  EXPECT_TRUE(st.message.find("key host-key") != std::string::npos);
  // The file goes: ENOENT.
  ::unlink(file.path.c_str());
  EXPECT_EQ(auth::resolve_dhchap_secret(&ring, "host-key", &by_name).rc, -ENOENT);
  // A value that is no key and no name (a secret with its prefix mistyped): ENOENT, unechoed.
  const std::string mistyped = "DHHC-1;01:" + first.substr(10);
  st = auth::resolve_dhchap_secret(&ring, mistyped, &by_name);
  EXPECT_EQ(st.rc, -ENOENT);
  EXPECT_TRUE(st.message.find(first.substr(10, 20)) == std::string::npos);
  // Without a keyring, values are keys only (EINVAL as before).
  EXPECT_EQ(auth::resolve_dhchap_secret(nullptr, "host-key", &by_name).rc, -EINVAL);
}

NDS_TEST(keyring_names_a_tls_psk_as_its_file_would) {
  auth::Keyring ring;
  const std::string psk = secret("NVMeTLSkey-1:01:", 30);
  KeyFile file(psk, 0600);
  EXPECT_TRUE(ring.add("psk0", file.path).is_ok());
  auth::ParsedKey by_name, by_path, by_value;
  EXPECT_TRUE(tls::resolve_psk(&ring, "psk0", &by_name).is_ok());
  EXPECT_TRUE(tls::resolve_psk(&ring, file.path, &by_path).is_ok());
  EXPECT_TRUE(tls::resolve_psk(&ring, psk, &by_value).is_ok());
  EXPECT_TRUE(by_name.key == by_value.key && by_path.key == by_value.key && by_name.hash == 1);
  Status st = tls::resolve_psk(&ring, "NVMeTLSkey;01:" + psk.substr(16), &by_name);
  EXPECT_EQ(st.rc, -ENOENT);
  EXPECT_TRUE(st.message.find(psk.substr(16, 20)) == std::string::npos);
  chmod(file.path.c_str(), 0640);  // someone opened it up: refused at use
  EXPECT_EQ(tls::resolve_psk(&ring, "psk0", &by_name).rc, -EPERM);
}
