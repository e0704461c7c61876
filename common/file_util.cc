#include "common/file_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](const char* step, int fd) {
    Status st = Status::IoError(std::string(step) + " " + tmp + ": " + strerror(errno));
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());  // No partial file left behind (e.g. on a full disk).
    return st;
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("create", -1);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write", fd);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync", fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename", -1);
  // The rename itself survives a power loss once the directory is synced too.
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace tidemark
