// The replay's keys: one record per key holding the key's bytes and a fixed-size body (the
// replay's per-key state), found by an open-addressing index. Built for logs in which nearly
// every line is a new client, where a decision runs at the speed of its cache misses:
//
//   record (64-byte aligned, in 2 MiB chunks that never move):
//     [key_size u32][id u32][body: body_bytes, 8-aligned][key bytes]      padded to 64
//   index (open addressing, linear probing, at most half full, doubled when it would be more):
//     slot = [hash u64][record*]                                          16 bytes
//
// A lookup is the key's hash, one probe run in the index (usually one cache line) and the key
// compared in its record, which the caller then uses: with a small body (one GCRA point: 40
// bytes) and a key of up to 16 bytes, the record is one cache line, so a new key costs two
// misses and a known one the same. Growth never copies a record, only index slots (no rehash:
// the hash is kept). Not thread-safe.
#ifndef SLUICE_TOOLS_SIM_KEY_STORE_H_
#define SLUICE_TOOLS_SIM_KEY_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace sluice::sim {

class KeyStore {
 public:
  static constexpr std::size_t kBodyAlign = 8;

  // `body_bytes`: what each record holds besides its key (a multiple of kBodyAlign; it is
  // zero-filled when the key is inserted).
  explicit KeyStore(std::size_t body_bytes);
  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  struct Found {
    std::byte* body;  // kBodyAlign-aligned; stable for the store's life
    bool inserted;    // the key is new: its body is zero
  };
  // `hash` is Hash(key).
  Found FindOrInsert(std::string_view key, std::uint64_t hash);
  [[nodiscard]] static std::uint64_t Hash(std::string_view key);
  // Hints for a key looked up soon (results never depend on them): fetch its index slot into
  // the cache; then, once that is there, the record its first slot names.
  void PrefetchSlot(std::uint64_t hash) const { __builtin_prefetch(&slots_.get()[hash & mask_]); }
  void PrefetchRecord(std::uint64_t hash) const {
    const Slot& s = slots_.get()[hash & mask_];
    if (s.hash == hash) __builtin_prefetch(s.record);
  }

  // Keys in the order first seen: ids 0 .. size()-1.
  [[nodiscard]] std::size_t size() const { return records_.size(); }
  [[nodiscard]] std::byte* body(std::uint32_t id) const { return records_[id] + kHeader; }
  [[nodiscard]] std::string_view key(std::uint32_t id) const;
  [[nodiscard]] static std::uint32_t IdOf(const std::byte* body);
  // Memory held: chunks and index.
  [[nodiscard]] std::size_t bytes() const;

 private:
  static constexpr std::size_t kHeader = 8;  // key_size, id
  // 2 MiB, aligned: with transparent huge pages (madvise), a chunk is one page fault, not 512.
  static constexpr std::size_t kChunkBytes = std::size_t{2} << 20;
  struct Slot {
    std::uint64_t hash;
    std::byte* record;  // nullptr: empty
  };
  struct FreeChunk {
    void operator()(void* p) const;
  };

  std::byte* NewRecord(std::string_view key);
  void Grow();

  std::size_t body_bytes_;
  std::unique_ptr<Slot[], FreeChunk> slots_;  // mask_ + 1 of them, zero: empty
  std::size_t mask_ = 0;
  std::vector<std::byte*> records_;  // by id
  std::vector<std::unique_ptr<std::byte, FreeChunk>> chunks_;
  std::byte* free_ = nullptr;  // the current chunk's first unused byte
  std::byte* end_ = nullptr;
  std::size_t chunk_bytes_ = 0;  // all chunks
};

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_KEY_STORE_H_
