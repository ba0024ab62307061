#include "util/uri.h"

#include <charconv>

namespace nds {

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool percent_decode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_digit(in[i + 1]);
    int lo = hex_digit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  return true;
}

Status parse_uri(std::string_view text, Uri* out) {
  auto bad = [&](const std::string& why) {
    return Status::error(-EINVAL, "invalid URI '" + std::string(text) + "': " + why);
  };
  size_t colon = text.find("://");
  if (colon == std::string_view::npos || colon == 0) return bad("expected scheme://...");
  out->scheme = std::string(text.substr(0, colon));
  for (char c : out->scheme)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-'))
      return bad("scheme must be lower-case letters and digits");
  std::string_view rest = text.substr(colon + 3);
  size_t qmark = rest.find('?');
  std::string_view query = qmark == std::string_view::npos ? std::string_view{} : rest.substr(qmark + 1);
  std::string_view location = rest.substr(0, qmark);
  size_t slash = location.find('/');
  std::string_view host = location.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : location.substr(slash + 1);
  if (!percent_decode(host, &out->host)) return bad("bad percent-escape in host");
  if (!percent_decode(path, &out->path)) return bad("bad percent-escape in path");
  out->query.params.clear();
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) return bad("query parameter '" + std::string(pair) + "' has no value");
    std::string key, value;
    if (!percent_decode(pair.substr(0, eq), &key) || !percent_decode(pair.substr(eq + 1), &value))
      return bad("bad percent-escape in query");
    if (!out->query.params.emplace(key, value).second) return bad("query parameter '" + key + "' given twice");
  }
  return Status::ok();
}

std::optional<std::string> UriQuery::take(const std::string& key) {
  auto it = params.find(key);
  if (it == params.end()) return std::nullopt;
  std::string value = std::move(it->second);
  params.erase(it);
  return value;
}

Status UriQuery::take_u64(const std::string& key, uint64_t min, uint64_t max, std::optional<uint64_t>* out) {
  auto text = take(key);
  if (!text) return Status::ok();
  uint64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (text->empty() || ec != std::errc() || ptr != end)
    return Status::error(-EINVAL, "parameter " + key + "='" + *text + "' is not a whole number");
  if (value < min || value > max)
    return Status::error(-EINVAL, "parameter " + key + "=" + *text + " is out of range [" + std::to_string(min) +
                                      ", " + std::to_string(max) + "]");
  *out = value;
  return Status::ok();
}

Status UriQuery::reject_unknown(std::string_view uri) const {
  if (params.empty()) return Status::ok();
  return Status::error(-EINVAL, "unknown parameter '" + params.begin()->first + "' in URI '" + std::string(uri) + "'");
}

Status validate_bdev_name(std::string_view name) {
  if (name.empty()) return Status::error(-EINVAL, "bdev name is empty");
  if (name.size() > 63) return Status::error(-EINVAL, "bdev name '" + std::string(name) + "' is longer than 63 bytes");
  for (char c : name) {
    if (c <= ' ' || c > '~' || c == '/' || c == '?')
      return Status::error(-EINVAL, "bdev name '" + std::string(name) + "' contains a character that is not allowed");
  }
  return Status::ok();
}

}  // namespace nds
