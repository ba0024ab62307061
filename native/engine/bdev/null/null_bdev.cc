#include "bdev/null/null_bdev.h"

#include <cstring>

#include "bdev/bdev_factory.h"
#include "bdev/bdev_module.h"

namespace nds {
namespace {

class NullBdev final : public Bdev {
 public:
  explicit NullBdev(const SizedBdevParams& p) : Bdev(p.name, p.uuid, p.block_size, p.num_blocks) {}

  const char* module_name() const override { return "null"; }
  bool io_type_supported(IoType) const override { return true; }

  void submit(ModuleChannel*, BdevIo* io) override {
    if (io->type == IoType::Read) std::memset(io->buf, 0, io->num_blocks * block_size());
    bdev_io_complete(io, 0);
  }
};

}  // namespace

Status null_bdev_create(std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out) {
  SizedBdevParams params;
  Status st = parse_sized_bdev_uri(text, uri, &params);
  if (!st.is_ok()) return st;
  *out = std::make_unique<NullBdev>(params);
  return Status::ok();
}

namespace {
Status null_from_uri(BdevManager&, std::string_view text, Uri& uri, std::unique_ptr<Bdev>* out) {
  return null_bdev_create(text, uri, out);
}
}  // namespace
NDS_BDEV_MODULE_REGISTER(BdevModule{"null", create_sync<null_from_uri>});

}  // namespace nds
