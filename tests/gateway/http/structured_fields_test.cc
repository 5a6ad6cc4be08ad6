#include "gateway/http/structured_fields.h"

#include <gtest/gtest.h>

namespace perfgate {
namespace {

TEST(StructuredDictionary, WellFormedValues) {
  for (const char* value : {"", "  ", "max-age=60", "no-store", "max-age=60, no-store", "max-age=60,no-store",
                            "a=1, b=-2, c=3.5, d=\"x, y\", e=tok/en:1, f=:aGVsbG8=:, g=?0, h=?1",
                            "no-cache=\"set-cookie\"", "a;p=1;q, b=2;r=\"s\"", "list=(1 2 \"three\");p", "l=()",
                            "*star=1", "a=1   ", "  a=1", "a=123456789012345", "d=123456789012.123"}) {
    EXPECT_TRUE(isStructuredDictionary(value)) << value;
  }
}

TEST(StructuredDictionary, MalformedValuesAreRefusedWhole) {
  for (const char* value : {"Max-Age=60",            // keys are lower-case
                            "max-age=60,",           // a trailing comma
                            ", max-age=60",          // a leading comma
                            "max-age=60 no-store",   // no comma
                            "max-age=",              // no value
                            "max-age=1.2345",        // four decimals
                            "a=1234567890123456",    // sixteen digits
                            "a=1234567890123.1",     // thirteen integer digits in a decimal
                            "a=\"unterminated",      // an open string
                            "a=\"bad \\x escape\"",  // only \\ and \" may be escaped
                            "a=?2",                  // booleans are ?0 and ?1
                            "a=:not base64!:",       // binary
                            "a=(1 2",                // an open inner list
                            "a=(1  2)x",             // bytes after an inner list
                            "1a=1",                  // keys start with a letter or *
                            "a=1;P=2"}) {            // parameter keys are lower-case too
    EXPECT_FALSE(isStructuredDictionary(value)) << value;
  }
}

}  // namespace
}  // namespace perfgate
