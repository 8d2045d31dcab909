#include "http/password.h"

#include <gtest/gtest.h>

namespace vigil::http {
namespace {

TEST(Password, HashThenVerify) {
  auto hash = HashPassword("correct horse", 4);
  ASSERT_TRUE(hash.ok()) << hash.status().message();
  EXPECT_EQ(hash->rfind("$2b$04$", 0), 0u) << *hash;
  EXPECT_EQ(hash->size(), 60u);
  EXPECT_TRUE(VerifyPassword("correct horse", *hash));
  EXPECT_FALSE(VerifyPassword("correct horse ", *hash));
  EXPECT_FALSE(VerifyPassword("", *hash));
  // A fresh salt each time.
  EXPECT_NE(*hash, *HashPassword("correct horse", 4));
}

// A published bcrypt test vector (OpenBSD/John the Ripper), in the $2a$ form
// older tools write.
TEST(Password, VerifiesKnownHashes) {
  EXPECT_TRUE(VerifyPassword("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
  EXPECT_FALSE(VerifyPassword("U*V", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
}

TEST(Password, BadInputsAreErrorsOrNoMatch) {
  EXPECT_FALSE(HashPassword("x", 3).ok());
  EXPECT_FALSE(HashPassword("x", 32).ok());
  auto long_pw = HashPassword(std::string(73, 'a'), 4);
  ASSERT_FALSE(long_pw.ok());
  EXPECT_NE(long_pw.status().message().find("72"), std::string::npos);
  EXPECT_FALSE(VerifyPassword("x", ""));
  EXPECT_FALSE(VerifyPassword("x", "plaintext"));
  EXPECT_FALSE(VerifyPassword("x", "$1$abc$defghijk"));  // MD5-crypt is not accepted
  EXPECT_FALSE(VerifyPassword("x", "$2b$04$short"));
}

}  // namespace
}  // namespace vigil::http
