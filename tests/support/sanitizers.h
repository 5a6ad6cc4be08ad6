// Whether the tests (and so the perfgate binary beside them, built with the same flags) run under
// AddressSanitizer. Its allocator keeps freed memory in quarantine (up to 256 MiB by default), so
// resident memory then says nothing about leaks or buffering: memory bounds are checked in the
// normal build only, where they mean something, and LeakSanitizer covers leaks here.
#pragma once

namespace perfgate::test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderAddressSanitizer = true;
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif

}  // namespace perfgate::test
