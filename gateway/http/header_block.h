// HeaderBlock: the one header-field type of the gateway. An ordered list of fields that owns its
// bytes; names keep the case they came with and every lookup ignores it (RFC 9110 §5.1).
//
// All names and values live in one buffer and fields are offsets into it, so a block copies,
// moves and grows without views going stale, and a block that is cleared and refilled (a
// parser's, a per-thread scratch one) allocates nothing once its buffer has grown. A parser
// copies the received field section into the block once (adopt()) and notes each field's place
// in that copy (addParsed()); fields added later (add()) are appended to the same buffer.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace perfgate {

// A field as seen through a block: views valid until the block next changes.
struct HeaderField {
  std::string_view name;
  std::string_view value;
};

class HeaderBlock {
 public:
  HeaderBlock() = default;
  // Fields given in place (tests, fixed responses), copied in order.
  HeaderBlock(std::initializer_list<HeaderField> fields) {
    for (const HeaderField& f : fields) add(f.name, f.value);
  }

  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = HeaderField;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = HeaderField;
    Iterator(const HeaderBlock* block, size_t index) : block_(block), index_(index) {}
    HeaderField operator*() const { return block_->at(index_); }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++index_;
      return before;
    }
    bool operator==(const Iterator& other) const { return index_ == other.index_; }

   private:
    const HeaderBlock* block_;
    size_t index_;
  };

  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, fields_.size()); }
  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  HeaderField operator[](size_t index) const { return at(index); }
  HeaderField at(size_t index) const {
    const Slot& s = fields_[index];
    return HeaderField{std::string_view(buffer_.data() + s.name, s.name_length),
                       std::string_view(buffer_.data() + s.value, s.value_length)};
  }

  // The first value of `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  size_t count(std::string_view name) const;
  // Calls fn(value) for every field named `name`, in order.
  template <typename Fn>
  void forEach(std::string_view name, Fn&& fn) const {
    for (size_t i = 0; i < fields_.size(); ++i) {
      HeaderField f = at(i);
      if (sameName(f.name, name)) fn(f.value);
    }
  }

  // Appends a field (name and value copied).
  void add(std::string_view name, std::string_view value);
  // Replaces every field named `name` with one, at the end.
  void set(std::string_view name, std::string_view value) {
    remove(name);
    add(name, value);
  }
  // Removes every field named `name`; returns how many went.
  size_t remove(std::string_view name);
  // Removes the fields for which pred(HeaderField) is true; returns how many went.
  template <typename Pred>
  size_t removeIf(Pred&& pred) {
    size_t kept = 0;
    for (size_t i = 0; i < fields_.size(); ++i) {
      if (!pred(at(i))) fields_[kept++] = fields_[i];
    }
    size_t removed = fields_.size() - kept;
    fields_.resize(kept);
    return removed;
  }
  // Forgets every field; the buffer keeps its capacity.
  void clear() {
    fields_.clear();
    buffer_.clear();
  }

  // For parsers: replaces the block with a copy of `text` (a received field section) and returns
  // that copy; addParsed() then notes fields that lie inside it. Valid until the next add().
  std::string_view adopt(std::string_view text);
  void addParsed(std::string_view name, std::string_view value);

  // Appends every field as "Name: value\r\n", in order.
  void appendTo(std::string& out) const;
  std::string serialize() const {
    std::string out;
    appendTo(out);
    return out;
  }
  // Bytes the fields take when serialized.
  size_t serializedSize() const;

 private:
  struct Slot {
    uint32_t name;
    uint32_t name_length;
    uint32_t value;
    uint32_t value_length;
  };
  static bool sameName(std::string_view a, std::string_view b);

  std::string buffer_;
  std::vector<Slot> fields_;
};

// Parses "Name: value\r\n" lines (the form serialize() writes) into `out`, after what it holds;
// lines without a colon are skipped. For blocks the gateway wrote itself (stored responses).
void appendSerializedFields(std::string_view lines, HeaderBlock& out);

}  // namespace perfgate
