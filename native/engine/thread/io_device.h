// io_device / io_channel: per-thread state of a device (queues, rings, sockets, counters).
// A device is any object registered here with a context size and create/destroy callbacks;
// a thread that wants to do I/O on it gets a channel, created on first use and shared by
// everyone on that thread. An I/O is always submitted and completed on the same thread,
// through that thread's channel.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace nds {

class Thread;
struct IoDevice;

struct IoChannel {
  IoDevice* device = nullptr;
  Thread* thread = nullptr;
  uint32_t refs = 0;
  void* ctx = nullptr;  // ctx_size bytes for the device's per-thread state
};

using ChannelCreateFn = int (*)(void* io_device, void* ctx);
using ChannelDestroyFn = void (*)(void* io_device, void* ctx);

// Any thread.
void io_device_register(void* io_device, ChannelCreateFn create, ChannelDestroyFn destroy, size_t ctx_size,
                        std::string name);
// From a lightweight thread: no new channels can be created; `done` runs on the calling
// thread once the last existing channel has been destroyed (at once if there is none).
void io_device_unregister(void* io_device, std::function<void()> done);

// From a lightweight thread: this thread's channel for the device, created if needed.
// nullptr if the device is not registered, is unregistering, or its create callback failed.
IoChannel* get_io_channel(void* io_device);
// Drops a reference; the channel is destroyed at the end of the pass once unreferenced.
void put_io_channel(IoChannel* channel);

// Runs `fn` on the thread of every channel of the device, one after another, then `done`
// on the calling thread. Used to gather per-thread state or to tell every channel something.
void for_each_channel(void* io_device, std::function<void(IoChannel*)> fn, std::function<void()> done);

// Engine teardown only, after every reactor has stopped: destroys whatever channels the
// device still has (their threads no longer run) and drops it from the registry.
void io_device_forget(void* io_device);

// Number of channels currently alive for the device (any thread; for stats and tests).
size_t io_device_channel_count(const void* io_device);

}  // namespace nds
