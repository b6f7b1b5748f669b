#include "sim/key_store.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "absl/hash/hash.h"
#include "sluice/cacheline.h"

namespace sluice::sim {
namespace {

constexpr std::size_t kInitialSlots = 1024;
constexpr std::size_t kHugePage = std::size_t{2} << 20;

// Zeroed memory for chunks and the index: from 2 MiB on, 2 MiB aligned and marked for
// transparent huge pages (a hint: refused, it is ordinary memory).
void* Allocate(std::size_t bytes) {
  const std::size_t align = bytes >= kHugePage ? kHugePage : kCacheLine;
  bytes = (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, bytes);
  if (p == nullptr) throw std::bad_alloc();
  if (align == kHugePage) madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

std::size_t RoundUp(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

std::uint32_t Load32(const std::byte* p) {
  std::uint32_t v = 0;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

void KeyStore::FreeChunk::operator()(void* p) const { std::free(p); }

KeyStore::KeyStore(std::size_t body_bytes)
    : body_bytes_(RoundUp(body_bytes, kBodyAlign)),
      slots_(static_cast<Slot*>(Allocate(kInitialSlots * sizeof(Slot)))),
      mask_(kInitialSlots - 1) {
  std::memset(slots_.get(), 0, kInitialSlots * sizeof(Slot));
}

KeyStore::~KeyStore() = default;

std::string_view KeyStore::key(std::uint32_t id) const {
  const std::byte* r = records_[id];
  return {reinterpret_cast<const char*>(r + kHeader + body_bytes_), Load32(r)};
}

std::uint32_t KeyStore::IdOf(const std::byte* body) { return Load32(body - kHeader + 4); }

std::size_t KeyStore::bytes() const { return chunk_bytes_ + (mask_ + 1) * sizeof(Slot); }

std::uint64_t KeyStore::Hash(std::string_view key) { return absl::Hash<std::string_view>{}(key); }

KeyStore::Found KeyStore::FindOrInsert(std::string_view key, std::uint64_t hash) {
  for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_.get()[i];
    if (s.record == nullptr) {
      if ((records_.size() + 1) * 2 > mask_ + 1) {
        Grow();
        return FindOrInsert(key, hash);  // once: the grown index has room
      }
      s = Slot{hash, NewRecord(key)};
      return Found{s.record + kHeader, true};
    }
    if (s.hash == hash && Load32(s.record) == key.size() &&
        std::memcmp(s.record + kHeader + body_bytes_, key.data(), key.size()) == 0) {
      return Found{s.record + kHeader, false};
    }
  }
}

std::byte* KeyStore::NewRecord(std::string_view key) {
  const std::size_t size = RoundUp(kHeader + body_bytes_ + key.size(), kCacheLine);
  if (static_cast<std::size_t>(end_ - free_) < size) {
    const std::size_t bytes = RoundUp(std::max(kChunkBytes, size), kHugePage);
    auto* chunk = static_cast<std::byte*>(Allocate(bytes));
    chunks_.emplace_back(chunk);
    free_ = chunk;
    end_ = chunk + bytes;
    chunk_bytes_ += bytes;
  }
  std::byte* r = free_;
  free_ += size;
  const auto key_size = static_cast<std::uint32_t>(key.size());
  const auto id = static_cast<std::uint32_t>(records_.size());
  std::memcpy(r, &key_size, 4);
  std::memcpy(r + 4, &id, 4);
  std::memset(r + kHeader, 0, body_bytes_);
  std::memcpy(r + kHeader + body_bytes_, key.data(), key.size());
  records_.push_back(r);
  return r;
}

// Doubles the index. Slot i of the old index moves to about i or i + old size of the new one
// (its hash, kept, says which): two sequential streams, no rehash.
void KeyStore::Grow() {
  const std::size_t old_size = mask_ + 1;
  std::unique_ptr<Slot[], FreeChunk> old(static_cast<Slot*>(Allocate(2 * old_size * sizeof(Slot))));
  std::memset(old.get(), 0, 2 * old_size * sizeof(Slot));
  old.swap(slots_);
  mask_ = 2 * old_size - 1;
  Slot* const slots = slots_.get();
  for (std::size_t k = 0; k < old_size; ++k) {
    const Slot& s = old[k];
    if (s.record == nullptr) continue;
    std::size_t i = s.hash & mask_;
    while (slots[i].record != nullptr) i = (i + 1) & mask_;
    slots[i] = s;
  }
}

}  // namespace sluice::sim
