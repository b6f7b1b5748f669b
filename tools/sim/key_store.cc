#include "sim/key_store.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "absl/hash/hash.h"
#include "sluice/cacheline.h"

namespace sluice::sim {
namespace {

constexpr std::size_t kInitialSlots = 1024;

std::size_t RoundUp(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

std::uint32_t Load32(const std::byte* p) {
  std::uint32_t v = 0;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

void KeyStore::FreeChunk::operator()(std::byte* p) const { std::free(p); }

KeyStore::KeyStore(std::size_t body_bytes)
    : body_bytes_(RoundUp(body_bytes, kBodyAlign)), slots_(kInitialSlots, Slot{0, nullptr}) {
  mask_ = slots_.size() - 1;
}

KeyStore::~KeyStore() = default;

std::string_view KeyStore::key(std::uint32_t id) const {
  const std::byte* r = records_[id];
  return {reinterpret_cast<const char*>(r + kHeader + body_bytes_), Load32(r)};
}

std::uint32_t KeyStore::IdOf(const std::byte* body) { return Load32(body - kHeader + 4); }

std::size_t KeyStore::bytes() const { return chunk_bytes_ + slots_.size() * sizeof(Slot); }

std::uint64_t KeyStore::Hash(std::string_view key) { return absl::Hash<std::string_view>{}(key); }

KeyStore::Found KeyStore::FindOrInsert(std::string_view key, std::uint64_t hash) {
  for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.record == nullptr) {
      if ((records_.size() + 1) * 2 > slots_.size()) {
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
    const std::size_t bytes = std::max(kChunkBytes, size);
    auto* chunk = static_cast<std::byte*>(std::aligned_alloc(kCacheLine, bytes));
    if (chunk == nullptr) throw std::bad_alloc();
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

void KeyStore::Grow() {
  std::vector<Slot> old(slots_.size() * 2, Slot{0, nullptr});
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.record == nullptr) continue;
    std::size_t i = s.hash & mask_;
    while (slots_[i].record != nullptr) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

}  // namespace sluice::sim
