#include "gateway/http/structured_fields.h"

#include "gateway/http/tokens.h"

namespace perfgate {
namespace {

bool isLcalpha(char c) { return c >= 'a' && c <= 'z'; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// A cursor over the value; every parse step returns false on the first byte that does not fit.
class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}
  bool done() const { return i_ == s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool take(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  void skipSp() {
    while (peek() == ' ') ++i_;
  }
  void skipOws() {
    while (peek() == ' ' || peek() == '\t') ++i_;
  }

  // key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
  bool key() {
    if (!isLcalpha(peek()) && peek() != '*') return false;
    ++i_;
    while (isLcalpha(peek()) || isDigit(peek()) || peek() == '_' || peek() == '-' || peek() == '.' || peek() == '*') {
      ++i_;
    }
    return true;
  }

  // sf-integer = ["-"] 1*15DIGIT; sf-decimal = ["-"] 1*12DIGIT "." 1*3DIGIT
  bool number() {
    take('-');
    size_t digits = 0;
    while (isDigit(peek())) ++i_, ++digits;
    if (digits == 0) return false;
    if (!take('.')) return digits <= 15;
    if (digits > 12) return false;
    size_t fraction = 0;
    while (isDigit(peek())) ++i_, ++fraction;
    return fraction >= 1 && fraction <= 3;
  }

  // sf-string = DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE, printable ASCII only
  bool string() {
    if (!take('"')) return false;
    while (!done()) {
      char c = s_[i_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (peek() != '"' && peek() != '\\') return false;
        ++i_;
      } else if (c < 0x20 || c > 0x7e) {
        return false;
      }
    }
    return false;
  }

  // sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" )
  bool token() {
    if (!isAlpha(peek()) && peek() != '*') return false;
    ++i_;
    while (!done() && (isTokenChar(static_cast<unsigned char>(peek())) || peek() == ':' || peek() == '/')) ++i_;
    return true;
  }

  // sf-binary = ":" *(base64) ":"
  bool binary() {
    if (!take(':')) return false;
    while (isAlpha(peek()) || isDigit(peek()) || peek() == '+' || peek() == '/' || peek() == '=') ++i_;
    return take(':');
  }

  bool bareItem() {
    char c = peek();
    if (c == '-' || isDigit(c)) return number();
    if (c == '"') return string();
    if (c == ':') return binary();
    if (c == '?') {
      ++i_;
      return take('0') || take('1');
    }
    return token();
  }

  // parameters = *( ";" *SP key [ "=" bare-item ] )
  bool parameters() {
    while (take(';')) {
      skipSp();
      if (!key()) return false;
      if (take('=') && !bareItem()) return false;
    }
    return true;
  }

  bool item() { return bareItem() && parameters(); }

  // inner-list = "(" *SP [ sf-item *( 1*SP sf-item ) *SP ] ")" parameters
  bool innerList() {
    if (!take('(')) return false;
    while (true) {
      skipSp();
      if (take(')')) return parameters();
      if (!item()) return false;
      if (peek() != ' ' && peek() != ')') return false;
    }
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

bool isStructuredDictionary(std::string_view value) {
  Parser p(value);
  p.skipSp();
  if (p.done()) return true;
  while (true) {
    if (!p.key()) return false;
    if (p.take('=')) {
      if (!(p.peek() == '(' ? p.innerList() : p.item())) return false;
    } else if (!p.parameters()) {
      return false;
    }
    p.skipOws();
    if (p.done()) return true;
    if (!p.take(',')) return false;
    p.skipOws();
    if (p.done()) return false;  // a trailing comma
  }
}

}  // namespace perfgate
