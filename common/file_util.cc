#include "common/file_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tidemark {

namespace {
Status ErrnoStatus(const std::string& path, int err) {
  std::string msg = path + ": " + strerror(err);
  if (err == ENOENT || err == ENOTDIR) return Status::NotFound(std::move(msg));
  return Status::IoError(std::move(msg));
}
}  // namespace

Status ReadFileInto(const std::string& path, std::string* out) {
  out->clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(path, errno);
  if (out->capacity() < 4096) out->reserve(4096);
  size_t len = 0;
  for (;;) {
    if (out->capacity() - len < 1024) out->reserve(out->capacity() * 2);
    out->resize(out->capacity());
    ssize_t n = ::read(fd, out->data() + len, out->size() - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      out->clear();
      return ErrnoStatus(path, err);
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  out->resize(len);
  ::close(fd);
  return Status::Ok();
}

Result<std::string> ReadFile(const std::string& path) {
  std::string s;
  Status st = ReadFileInto(path, &s);
  if (!st.ok()) return st;
  return s;
}

Result<std::vector<std::string>> ListDir(const std::string& path, bool dirs_only) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return ErrnoStatus(path, errno);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    const char* n = e->d_name;
    if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
    if (dirs_only) {
      bool is_dir = e->d_type == DT_DIR;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st;
        is_dir = ::stat((path + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      }
      if (!is_dir) continue;
    }
    names.emplace_back(n);
  }
  ::closedir(d);
  return names;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace tidemark
