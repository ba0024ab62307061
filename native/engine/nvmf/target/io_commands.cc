// NVM I/O commands on an I/O queue: validation driven by each command's row in the table
// (commands.cc), the data transfer (in-capsule or one R2T), and one handler per command.
#include <cstdlib>
#include <cstring>

#include "nvmf/target/connection.h"
#include "nvmf/target/connection_internal.h"
#include "nvmf/wire/nvme_fields.h"
#include "nvmf/wire/nvme_spec.h"

namespace nds::nvmf {

using namespace spec;

void Connection::io(const PduView& pdu) {
  const SqeView sqe(pdu.bytes + 8);
  const uint16_t cid = sqe.cid();
  Subsystem* sub = ctrl_->subsystem.get();
  if (!sub) return respond(cid, kInvalidOpcode | kDoNotRetry);
  if (sub->generation.load(std::memory_order_acquire) != table_generation_) refresh_namespaces();
  const IoCommand* command = io_command(sqe.opcode());
  if (!command) return respond(cid, kInvalidOpcode | kDoNotRetry);
  NamespaceSlot* slot = slot_for(sqe.nsid());
  if (!slot) return respond(cid, kInvalidNamespace | kDoNotRetry);
  if (ana_ == AnaState::Inaccessible) return respond(cid, kAnaInaccessible);
  Namespace& ns = *slot->entry->ns;
  const uint64_t slba = sqe.slba();
  const uint64_t blocks = sqe.blocks();
  const uint32_t bs = ns.block_size();
  if ((command->flags & kRanged) && (slba >= ns.num_blocks() || blocks > ns.num_blocks() - slba))
    return respond(cid, kLbaOutOfRange | kDoNotRetry);
  const bool moves_data = command->flags & kMovesData;
  if (moves_data && blocks * bs > kMaxDataTransfer) return respond(cid, kInvalidField | kDoNotRetry);

  Request* r = take_request(sqe.bytes());
  if (!r) return terminate(FatalError::PduSequenceError, 0, "more commands outstanding than the queue holds");
  r->command = command;
  r->slot = slot;
  ++slot->in_flight;
  r->offset = slba * bs;
  r->length = moves_data ? static_cast<uint32_t>(blocks * bs) : 0;
  if (command->flags & kRangeList) {
    if (!sqe.dsm_deallocate()) {  // no deallocate attribute: nothing to do
      release(r);
      return respond(cid, kSuccess);
    }
    const uint32_t list_bytes = sqe.dsm_ranges() * 16;
    if (pdu.data_length < list_bytes) {
      release(r);
      return respond(cid, kDataSglLengthInvalid | kDoNotRetry);
    }
    r->buf_length = list_bytes;
    r->buf = buffers_.get(r->buf_length);
    if (!r->buf) {
      release(r);
      return respond(cid, kInternalError);
    }
    std::memcpy(r->buf, pdu.data(), r->buf_length);
    return execute(r);
  }
  if (moves_data) {
    r->buf_length = r->length;
    r->buf = buffers_.get(r->length);
    if (!r->buf) {
      release(r);
      return respond(cid, kInternalError);  // transient: the host may retry
    }
    if (command->flags & kFromHost) {
      if (pdu.data_length) {
        if (pdu.data_length != r->length) {
          release(r);
          return respond(cid, kDataSglLengthInvalid | kDoNotRetry);
        }
        std::memcpy(r->buf, pdu.data(), r->length);
      } else {
        // Larger than the capsule: ask for the data with one R2T (MAXH2CDATA covers MDTS).
        r->awaiting_data = true;
        uint8_t header[kDataHeaderLength] = {};
        put16(header + 8, cid);
        put16(header + 10, static_cast<uint16_t>(r->index + 1));
        put32(header + 16, r->length);
        return append_pdu(&out_.bytes(), PduType::R2T, digest_flags(false), header, kDataHeaderLength, nullptr, 0);
      }
    }
  }
  execute(r);
}

void Connection::execute(Request* r) { (this->*(r->command->execute))(r); }

void Connection::execute_read(Request* r) {
  int rc = r->slot->entry->ns->submit(r->slot->queue, IoType::Read, r->offset, r->length, r->buf, io_done, r);
  if (rc != 0) finish(r, rc);
}

void Connection::execute_write(Request* r) {
  int rc = r->slot->entry->ns->submit(r->slot->queue, IoType::Write, r->offset, r->length, r->buf, io_done, r);
  if (rc != 0) finish(r, rc);
}

void Connection::execute_compare(Request* r) {
  // Keep the host's data aside and read the media into the DMA buffer; finish compares.
  r->compare_with = std::malloc(r->length);
  if (!r->compare_with) return finish(r, -ENOMEM);
  std::memcpy(r->compare_with, r->buf, r->length);
  int rc = r->slot->entry->ns->submit(r->slot->queue, IoType::Read, r->offset, r->length, r->buf, io_done, r);
  if (rc != 0) finish(r, rc);
}

void Connection::execute_flush(Request* r) {
  int rc = r->slot->entry->ns->submit(r->slot->queue, IoType::Flush, 0, 0, nullptr, io_done, r);
  if (rc != 0) finish(r, rc);
}

void Connection::execute_write_zeroes(Request* r) {
  Namespace& ns = *r->slot->entry->ns;
  const uint64_t bytes = SqeView(r->sqe).blocks() * ns.block_size();
  int rc = ns.submit(r->slot->queue, IoType::WriteZeroes, r->offset, bytes, nullptr, io_done, r);
  if (rc != 0) finish(r, rc);
}

// Dataset Management with the deallocate attribute: each range becomes a Write Zeroes
// (deallocated blocks read as zeroes afterwards, as DLFEAT says).
void Connection::dsm(Request* r) {
  Namespace& ns = *r->slot->entry->ns;
  const uint32_t ranges = r->buf_length / 16;
  const uint8_t* list = static_cast<const uint8_t*>(r->buf);
  for (uint32_t i = 0; i < ranges; ++i) {
    uint64_t start = get64(list + 16 * i + 8), count = get32(list + 16 * i + 4);
    if (count && (start >= ns.num_blocks() || count > ns.num_blocks() - start)) {
      r->first_error = -ERANGE;
      break;
    }
  }
  r->pending = 1;  // held until every range is submitted
  for (uint32_t i = 0; i < ranges && r->first_error == 0; ++i) {
    uint64_t start = get64(list + 16 * i + 8), count = get32(list + 16 * i + 4);
    if (!count) continue;
    ++r->pending;
    int rc = ns.submit(r->slot->queue, IoType::WriteZeroes, start * ns.block_size(), count * ns.block_size(), nullptr,
                       io_done, r);
    if (rc != 0) {
      --r->pending;
      r->first_error = rc;
    }
  }
  io_done(0, r);
}

void Connection::io_done(int status, void* arg) {
  auto* r = static_cast<Request*>(arg);
  if (r->command->flags & kRangeList) {
    if (status != 0 && r->first_error == 0) r->first_error = status;
    if (--r->pending > 0) return;
    status = r->first_error;
  }
  r->conn->finish(r, status);
}

}  // namespace nds::nvmf
