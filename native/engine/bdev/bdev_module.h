// Bdev modules register themselves: each names the URI scheme it serves and how it makes a
// bdev from such a URI, the way SPDK modules register a function table. The bdev core
// (bdev_factory.cc) looks the scheme up here and knows no module by name.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bdev/bdev_manager.h"
#include "util/uri.h"

namespace nds {

// Arguments of a module-specific control command, by name (integers).
using BdevControlArgs = std::map<std::string, int64_t, std::less<>>;

struct BdevModule {
  const char* scheme;
  // App thread. Makes the bdev `uri` names, or fails with a coded Status; done may run
  // later (an nvmf:// bdev connects first). The factory registers what it gets.
  using Done = std::function<void(Status, std::unique_ptr<Bdev>)>;
  void (*create)(BdevManager& manager, std::string_view text, Uri& uri, Done done);
  // Optional: the module's own commands on one of its bdevs (the error module's "inject"
  // and "clear"), so that callers above the bdev core need no module's header.
  Status (*control)(Bdev& bdev, std::string_view command, const BdevControlArgs& args) = nullptr;
  // Optional: the numbers its commands take (the error module's modes), by name, so that
  // callers get them from here rather than copying them.
  const BdevControlArgs* constants = nullptr;
};

// At static initialisation, from the module's own file (NDS_BDEV_MODULE_REGISTER).
bool register_bdev_module(const BdevModule& module);
const BdevModule* find_bdev_module(std::string_view scheme);
// Every registered module, in registration order.
const std::vector<BdevModule>& bdev_modules();
// Every registered scheme, sorted (error messages, tests).
std::vector<std::string> bdev_module_schemes();
// Runs a module command on `bdev` (any thread, as the module allows): EINVAL when the
// bdev's module has no commands or not this one.
Status bdev_module_control(Bdev& bdev, std::string_view command, const BdevControlArgs& args);

// A module whose create is synchronous: `make(manager, text, uri, &out)` -> Status.
template <Status (*make)(BdevManager&, std::string_view, Uri&, std::unique_ptr<Bdev>*)>
void create_sync(BdevManager& manager, std::string_view text, Uri& uri, BdevModule::Done done) {
  std::unique_ptr<Bdev> bdev;
  Status st = make(manager, text, uri, &bdev);
  done(st, std::move(bdev));
}

#define NDS_BDEV_MODULE_JOIN2(a, b) a##b
#define NDS_BDEV_MODULE_JOIN(a, b) NDS_BDEV_MODULE_JOIN2(a, b)
// In a module's .cc, at namespace scope: NDS_BDEV_MODULE_REGISTER(nds::BdevModule{"scheme", create});
#define NDS_BDEV_MODULE_REGISTER(...) \
  static const bool NDS_BDEV_MODULE_JOIN(nds_bdev_module_registered_, __LINE__) = ::nds::register_bdev_module(__VA_ARGS__)

}  // namespace nds
