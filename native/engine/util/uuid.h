// RFC 4122 UUIDs: random version 4 generation, parsing and formatting. Our own code because
// libuuid.a cannot be linked into a shared object.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nds {

struct Uuid {
  std::array<uint8_t, 16> bytes{};

  static Uuid random_v4();
  // Accepts the canonical 8-4-4-4-12 form, case-insensitive.
  static std::optional<Uuid> parse(std::string_view text);
  std::string to_string() const;
  bool is_null() const;
  bool operator==(const Uuid&) const = default;
};

}  // namespace nds
