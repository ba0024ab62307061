// nvmf://host:port/subnqn?hostnqn=..&nsid=1&hdgst=0|1&ddgst=0|1&name=..&keep_alive_ms=..
//        &ctrl_loss_timeout_ms=..&reconnect_delay_ms=..&io_queue_size=..&connect_timeout_ms=..
// A bdev on a namespace of a remote NVMe-oF controller over TCP (our host side): the admin
// queue lives on the app thread, each thread doing I/O gets its own I/O queue (its channel).
// When the connection is lost, I/O waits while the controller reconnects; once
// ctrl_loss_timeout_ms has passed without success, I/O fails with ENODEV and the bdev
// reports itself gone. hostnqn defaults to a UUID-based NQN of this engine process.
#pragma once
#include <functional>
#include <memory>
#include <string_view>

#include "bdev/bdev_manager.h"
#include "bdev/bdev_module.h"
#include "util/uri.h"

namespace nds {

// App thread; done(ok, bdev) with the bdev registered, once the namespace is identified.
void nvmf_bdev_create(BdevManager& manager, std::string_view text, Uri& uri, BdevModule::Done done);

// This process's default host NQN (nqn.2014-08.org.nvmexpress:uuid:<uuid>).
const std::string& default_host_nqn();

}  // namespace nds
