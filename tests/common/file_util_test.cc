#include "common/file_util.h"

#include <gtest/gtest.h>

#include "tests/testing/testing.h"

namespace tidemark {
namespace {

TEST(FileUtilTest, WriteFileAtomicallyReplacesTheContentAndLeavesNoTemporaryFile) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/state.json";
  ASSERT_TRUE(WriteFileAtomically(path, "first, longer content").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  Result<std::string> got = ReadFile(path);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "second");
  EXPECT_FALSE(PathExists(path + ".tmp"));
  ASSERT_TRUE(WriteFileAtomically(path, "").ok());
  EXPECT_EQ(*ReadFile(path), "");
}

TEST(FileUtilTest, WriteFileAtomicallyNamesTheStepThatFailed) {
  testing::TempDir dir;
  dir.WriteFile("file", "x");
  // A directory below a regular file cannot exist: creating the temporary file fails.
  Status st = WriteFileAtomically(dir.path() + "/file/state.json", "data");
  EXPECT_EQ(st.code(), StatusCode::kIoError) << st.ToString();
  EXPECT_NE(st.message().find("create " + dir.path() + "/file/state.json.tmp"), std::string::npos)
      << st.ToString();
  EXPECT_EQ(*ReadFile(dir.path() + "/file"), "x");  // Nothing else was touched.
}

}  // namespace
}  // namespace tidemark
