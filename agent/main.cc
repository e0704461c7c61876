#include <iostream>
#include <string>
#include <vector>

#include "agent/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return tidemark::agent::RunCli(args, std::cout, std::cerr);
}
