// An asynchronous loop without a closure that holds itself: body(next) runs once now and
// again each time something calls next() (an I/O completion, typically), until it returns
// without arranging another call. The body lives as long as a copy of `next` does (held
// by a pending callback) and is freed after the last one. State the loop carries from one
// iteration to the next lives in the body's own captures (declare it `mutable`).
#pragma once
#include <memory>
#include <utility>

namespace nds {

template <typename Body>
void async_loop(Body body) {
  struct Loop {
    Body body;
  };
  struct Next {
    std::shared_ptr<Loop> loop;
    void operator()() const { loop->body(*this); }
  };
  Next{std::make_shared<Loop>(Loop{std::move(body)})}();
}

}  // namespace nds
