// Bdev URIs in the form Mayastor users know: scheme://host/path?key=value&key=value.
// Parsing is strict: percent-escapes are decoded, a repeated key is an error, and callers
// reject any key they do not understand (UriQuery::take + UriQuery::reject_unknown).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

namespace nds {

class UriQuery {
 public:
  // Removes and returns the value of `key`, if present.
  std::optional<std::string> take(const std::string& key);
  // Parses and removes an unsigned decimal integer within [min, max]; an absent key leaves
  // `out` untouched. A malformed or out-of-range value is -EINVAL naming the key.
  Status take_u64(const std::string& key, uint64_t min, uint64_t max, std::optional<uint64_t>* out);
  // After every known key was taken: -EINVAL naming the first key left over.
  Status reject_unknown(std::string_view uri) const;

  std::map<std::string, std::string> params;
};

struct Uri {
  std::string scheme;
  std::string host;  // may include ":port"
  std::string path;  // without the leading '/'
  UriQuery query;
};

Status parse_uri(std::string_view text, Uri* out);

// Bdev names: 1-63 bytes of printable ASCII without '/', whitespace or '?'.
Status validate_bdev_name(std::string_view name);

}  // namespace nds
