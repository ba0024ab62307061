#include "bdev/bdev_factory.h"

#include "bdev/bdev_module.h"

namespace nds {

Status take_block_size(UriQuery& query, const std::string& where, uint32_t* out) {
  std::optional<uint64_t> blk_size;
  Status st = query.take_u64("blk_size", 0, UINT32_MAX, &blk_size);
  if (!st.is_ok()) return st;
  *out = blk_size ? static_cast<uint32_t>(*blk_size) : 512;
  if (*out != 512 && *out != 4096)
    return Status::error(-EINVAL, "blk_size must be 512 or 4096, not " + std::to_string(*out) + where);
  return Status::ok();
}

Status take_uuid(UriQuery& query, const std::string& where, Uuid* out) {
  auto text = query.take("uuid");
  if (!text) {
    *out = Uuid::random_v4();
    return Status::ok();
  }
  auto parsed = Uuid::parse(*text);
  if (!parsed) return Status::error(-EINVAL, "uuid '" + *text + "' is not a UUID" + where);
  *out = *parsed;
  return Status::ok();
}

Status parse_sized_bdev_uri(std::string_view text, Uri& uri, SizedBdevParams* out) {
  std::string where = " in URI '" + std::string(text) + "'";
  if (!uri.host.empty())
    return Status::error(-EINVAL, "unexpected host '" + uri.host + "'" + where + " (use " + uri.scheme + ":///name)");
  Status st = validate_bdev_name(uri.path);
  if (!st.is_ok()) return Status::error(st.rc, st.message + where);
  out->name = uri.path;

  std::optional<uint64_t> size_mb, num_blocks;
  // 16 TiB bounds what a memory bdev can sensibly claim and keeps byte sizes far from overflow.
  if (!(st = uri.query.take_u64("size_mb", 1, 16ull << 20, &size_mb)).is_ok()) return st;
  if (!(st = uri.query.take_u64("num_blocks", 1, 1ull << 40, &num_blocks)).is_ok()) return st;
  if (!(st = take_block_size(uri.query, where, &out->block_size)).is_ok()) return st;
  if (!(st = take_uuid(uri.query, where, &out->uuid)).is_ok()) return st;
  if (!(st = uri.query.reject_unknown(text)).is_ok()) return st;
  if (size_mb && num_blocks) return Status::error(-EINVAL, "give size_mb or num_blocks, not both" + where);
  if (!size_mb && !num_blocks) return Status::error(-EINVAL, "a size is required: size_mb or num_blocks" + where);
  out->num_blocks = num_blocks ? *num_blocks : (*size_mb << 20) / out->block_size;
  return Status::ok();
}

void create_bdev_from_uri(BdevManager& manager, std::string_view text, std::function<void(Status, Bdev*)> done) {
  Uri uri;
  Status st = parse_uri(text, &uri);
  if (!st.is_ok()) return done(st, nullptr);
  const BdevModule* module = find_bdev_module(uri.scheme);
  if (!module) {
    std::string supported;
    for (const std::string& scheme : bdev_module_schemes()) supported += (supported.empty() ? "" : ", ") + scheme;
    return done(Status::error(-EINVAL, "unsupported URI scheme '" + uri.scheme + "' in '" + std::string(text) +
                                           "' (supported: " + supported + ")"),
                nullptr);
  }
  module->create(manager, text, uri, [&manager, done = std::move(done)](Status made, std::unique_ptr<Bdev> bdev) {
    if (!made.is_ok()) return done(made, nullptr);
    if (manager.find(bdev->name())) {
      // Made but not registered: the module lets go of what it holds (a claim, a connection).
      Bdev* orphan = bdev.release();
      std::string name = orphan->name();
      orphan->destruct([orphan] { delete orphan; });
      return done(Status::error(-EEXIST, "bdev " + name + " already exists"), nullptr);
    }
    Bdev* raw = bdev.get();
    Status added = manager.add(std::move(bdev));
    done(added, added.is_ok() ? raw : nullptr);
  });
}

}  // namespace nds
