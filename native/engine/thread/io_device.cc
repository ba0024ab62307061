#include "thread/io_device.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "thread/thread.h"

namespace nds {

struct IoDevice {
  void* key;
  std::string name;
  ChannelCreateFn create;
  ChannelDestroyFn destroy;
  size_t ctx_size;
  std::atomic<bool> unregistering{false};  // read without the lock by get_io_channel's fast path
  std::function<void()> unregister_done;
  Thread* unregister_thread = nullptr;
  std::vector<IoChannel*> channels;
};

// The registry is touched on management paths only (channel creation and destruction,
// device registration), never per I/O, so a mutex is the simple right tool.
static std::mutex registry_mutex;
static std::unordered_map<const void*, std::unique_ptr<IoDevice>> registry;

void io_device_register(void* io_device, ChannelCreateFn create, ChannelDestroyFn destroy, size_t ctx_size,
                        std::string name) {
  auto dev = std::make_unique<IoDevice>();
  dev->key = io_device;
  dev->name = std::move(name);
  dev->create = create;
  dev->destroy = destroy;
  dev->ctx_size = ctx_size;
  std::lock_guard<std::mutex> lock(registry_mutex);
  registry[io_device] = std::move(dev);
}

static void finish_unregister_locked(std::unordered_map<const void*, std::unique_ptr<IoDevice>>::iterator it) {
  std::unique_ptr<IoDevice> dev = std::move(it->second);
  registry.erase(it);
  Thread* target = dev->unregister_thread;
  auto done = std::move(dev->unregister_done);
  if (!done) return;
  if (target == Thread::current()) {
    target->defer([](void* arg) {
      std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(arg));
      (*fn)();
    }, new std::function<void()>(std::move(done)));
  } else {
    target->send(std::move(done));
  }
}

void io_device_unregister(void* io_device, std::function<void()> done) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry.find(io_device);
  if (it == registry.end()) {
    if (done) Thread::current()->send(std::move(done));
    return;
  }
  it->second->unregistering = true;
  it->second->unregister_done = std::move(done);
  it->second->unregister_thread = Thread::current();
  if (it->second->channels.empty()) finish_unregister_locked(it);
}

IoChannel* get_io_channel(void* io_device) {
  Thread* thread = Thread::current();
  if (!thread) return nullptr;
  auto& table = thread->channels();
  auto found = table.find(io_device);
  if (found != table.end()) {
    if (found->second->device->unregistering.load(std::memory_order_relaxed)) return nullptr;
    ++found->second->refs;
    return found->second;
  }
  IoDevice* dev;
  IoChannel* ch;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto it = registry.find(io_device);
    if (it == registry.end() || it->second->unregistering) return nullptr;
    dev = it->second.get();
    // Listed before it is created: a device that changes its channels' state (a nexus's
    // configuration, its range locks) publishes the change and then visits every listed
    // channel, so a channel must be listed before its create callback reads that state.
    // for_each_channel reaches it by a message to this thread, after creation finished.
    ch = new IoChannel{dev, thread, 1, nullptr};
    dev->channels.push_back(ch);
  }
  ch->ctx = dev->ctx_size ? ::operator new(dev->ctx_size, std::align_val_t(64)) : nullptr;
  if (dev->create(io_device, ch->ctx) != 0) {
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      auto& list = dev->channels;
      list.erase(std::find(list.begin(), list.end(), ch));
      if (dev->unregistering && list.empty()) finish_unregister_locked(registry.find(dev->key));
    }
    if (ch->ctx) ::operator delete(ch->ctx, std::align_val_t(64));
    delete ch;
    return nullptr;
  }
  table[io_device] = ch;
  return ch;
}

static void destroy_channel_if_unused(void* arg) {
  auto* ch = static_cast<IoChannel*>(arg);
  if (ch->refs != 0) return;  // re-acquired within the same pass
  IoDevice* dev = ch->device;
  ch->thread->channels().erase(dev->key);
  dev->destroy(dev->key, ch->ctx);
  if (ch->ctx) ::operator delete(ch->ctx, std::align_val_t(64));
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& list = dev->channels;
  list.erase(std::find(list.begin(), list.end(), ch));
  delete ch;
  if (dev->unregistering && list.empty()) finish_unregister_locked(registry.find(dev->key));
}

void put_io_channel(IoChannel* channel) {
  if (--channel->refs == 0) channel->thread->defer(destroy_channel_if_unused, channel);
}

namespace {
struct ForEachState {
  const void* device;
  // The thread is captured while the registry is locked: a channel may die before its
  // turn comes, so it is looked up again, on its own thread, before use.
  std::vector<std::pair<Thread*, IoChannel*>> channels;
  size_t next = 0;
  std::function<void(IoChannel*)> fn;
  std::function<void()> done;
  Thread* origin;
};

void for_each_step(std::shared_ptr<ForEachState> state) {
  if (state->next == state->channels.size()) {
    state->origin->send([state] { state->done(); });
    return;
  }
  Thread* thread = state->channels[state->next].first;  // plain variables: captured below
  auto* ch = state->channels[state->next].second;
  ++state->next;
  thread->send([state, thread, ch] {
    auto& table = thread->channels();
    auto found = table.find(state->device);
    if (found != table.end() && found->second == ch) state->fn(ch);
    for_each_step(state);
  });
}
}  // namespace

void for_each_channel(void* io_device, std::function<void(IoChannel*)> fn, std::function<void()> done) {
  auto state = std::make_shared<ForEachState>();
  state->fn = std::move(fn);
  state->done = std::move(done);
  state->origin = Thread::current();
  state->device = io_device;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto it = registry.find(io_device);
    if (it != registry.end())
      for (IoChannel* ch : it->second->channels) state->channels.emplace_back(ch->thread, ch);
  }
  for_each_step(state);
}

void io_device_forget(void* io_device) {
  std::unique_ptr<IoDevice> dev;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto it = registry.find(io_device);
    if (it == registry.end()) return;
    dev = std::move(it->second);
    registry.erase(it);
  }
  for (IoChannel* ch : dev->channels) {
    ch->thread->channels().erase(io_device);
    dev->destroy(io_device, ch->ctx);
    if (ch->ctx) ::operator delete(ch->ctx, std::align_val_t(64));
    delete ch;
  }
}

size_t io_device_channel_count(const void* io_device) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry.find(io_device);
  return it == registry.end() ? 0 : it->second->channels.size();
}

}  // namespace nds
