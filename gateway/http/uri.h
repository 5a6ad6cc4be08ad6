// URI pieces the gateway must read exactly as the backend will (RFC 3986): the request path that
// routing and cache keys use, and the authority a Host field may carry.
#pragma once

#include <string>
#include <string_view>

namespace perfgate {

// RFC 3986 §6.2.2 syntax-based normalisation of an origin-form path ("/..."), so that every
// spelling of one resource routes and keys alike:
//  - percent-escapes of unreserved characters (ALPHA DIGIT "-" "." "_" "~") are decoded, the hex
//    digits of every other escape upper-cased (§6.2.2.1, §6.2.2.2); "%2F" stays an escape, not
//    a segment separator;
//  - dot segments are removed (§5.2.4; ".." at the root goes). A segment whose part before ';'
//    is "." or ".." counts as one too ("..;x"), since servlet containers read it that way;
//  - with `merge_slashes`, empty segments inside the path go ("//a" is "/a"); a trailing "/"
//    stays.
// Returns true when `out` differs from `path` (then `out` holds the result); false leaves `out`
// unspecified and the path as it is. Costs one scan and no allocation when nothing changes.
bool normalizePath(std::string_view path, bool merge_slashes, std::string& out);

// RFC 9110 §7.2 / RFC 3986 §3.2: host [ ":" port ], where host is a bracketed IPv6 literal or a
// name / IPv4 address of ALPHA DIGIT "-" "." "_" "~" (sub-delims such as "," and ";" and
// percent-escapes are refused: no server means them in a Host), and port is at most five digits.
bool isValidAuthority(std::string_view authority);

}  // namespace perfgate
