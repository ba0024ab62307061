#include "bdev/bdev_module.h"

#include <algorithm>

namespace nds {
namespace {
// A function-local static: modules register from other files' static initialisers, in
// whatever order the linker chose, so the table must exist before the first of them.
std::vector<BdevModule>& modules() {
  static std::vector<BdevModule> table;
  return table;
}
}  // namespace

const std::vector<BdevModule>& bdev_modules() { return modules(); }

bool register_bdev_module(const BdevModule& module) {
  modules().push_back(module);
  return true;
}

const BdevModule* find_bdev_module(std::string_view scheme) {
  for (const BdevModule& m : modules())
    if (scheme == m.scheme) return &m;
  return nullptr;
}

Status bdev_module_control(Bdev& bdev, std::string_view command, const BdevControlArgs& args) {
  const BdevModule* module = find_bdev_module(bdev.module_name());
  if (!module || !module->control)
    return Status::error(-EINVAL, "bdev " + bdev.name() + " (module " + bdev.module_name() + ") takes no command '" +
                                      std::string(command) + "'");
  return module->control(bdev, command, args);
}

std::vector<std::string> bdev_module_schemes() {
  std::vector<std::string> out;
  for (const BdevModule& m : modules()) out.emplace_back(m.scheme);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace nds
