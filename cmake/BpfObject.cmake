# eBPF build chain (libbpf/libbpf-bootstrap tools/cmake/FindBpfObject.cmake does the same):
#   bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h      (once, at build time)
#   clang -g -O2 -target bpf -D__TARGET_ARCH_<arch> -c x.bpf.c -o x.bpf.o
#   llvm-strip -g x.bpf.o
#   bpftool gen skeleton x.bpf.o > x.skel.h
# tidemark_bpf_find_tools() sets TIDEMARK_EBPF_MISSING to what is missing ("" when all is there).
# tidemark_bpf_object(<name> <src> [DEPENDS hdr...]) makes INTERFACE target <name>_skel whose
# include directory holds <name>.skel.h.

function(tidemark_bpf_find_tools)
  set(missing "")
  find_program(TIDEMARK_CLANG NAMES clang clang-16 clang-15 clang-14)
  find_program(TIDEMARK_LLVM_STRIP NAMES llvm-strip llvm-strip-16 llvm-strip-15 llvm-strip-14)
  find_program(TIDEMARK_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin /usr/local/sbin)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(LIBBPF QUIET IMPORTED_TARGET GLOBAL libbpf>=0.8)
  endif()
  foreach(v TIDEMARK_CLANG TIDEMARK_LLVM_STRIP TIDEMARK_BPFTOOL)
    if(NOT ${v})
      list(APPEND missing ${v})
    endif()
  endforeach()
  if(NOT LIBBPF_FOUND)
    list(APPEND missing "libbpf (pkg-config)")
  endif()
  if(TIDEMARK_CLANG)
    execute_process(COMMAND ${TIDEMARK_CLANG} --version OUTPUT_VARIABLE out)
    if(out MATCHES "clang version ([0-9]+)" AND CMAKE_MATCH_1 VERSION_LESS 10)
      list(APPEND missing "clang >= 10 (found ${CMAKE_MATCH_1}, too old for CO-RE)")
    endif()
  endif()
  # vmlinux.h: a checked-in header (TIDEMARK_VMLINUX_H) or the running kernel's BTF.
  set(TIDEMARK_VMLINUX_H "" CACHE FILEPATH "Checked-in vmlinux.h to use instead of dumping kernel BTF")
  if(NOT TIDEMARK_VMLINUX_H AND NOT EXISTS /sys/kernel/btf/vmlinux)
    list(APPEND missing "/sys/kernel/btf/vmlinux (or -DTIDEMARK_VMLINUX_H=...)")
  endif()
  set(TIDEMARK_EBPF_MISSING "${missing}" PARENT_SCOPE)
endfunction()

function(tidemark_bpf_vmlinux)
  set(dir ${CMAKE_BINARY_DIR}/ebpf/vmlinux)
  if(TIDEMARK_VMLINUX_H)
    add_custom_command(OUTPUT ${dir}/vmlinux.h
      COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
      COMMAND ${CMAKE_COMMAND} -E copy ${TIDEMARK_VMLINUX_H} ${dir}/vmlinux.h
      DEPENDS ${TIDEMARK_VMLINUX_H}
      COMMENT "Copying ${TIDEMARK_VMLINUX_H}")
  else()
    add_custom_command(OUTPUT ${dir}/vmlinux.h
      COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
      COMMAND ${TIDEMARK_BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${dir}/vmlinux.h.tmp
      COMMAND ${CMAKE_COMMAND} -E rename ${dir}/vmlinux.h.tmp ${dir}/vmlinux.h
      COMMENT "Generating vmlinux.h from /sys/kernel/btf/vmlinux")
  endif()
  add_custom_target(tidemark_vmlinux_h DEPENDS ${dir}/vmlinux.h)
  set(TIDEMARK_VMLINUX_DIR ${dir} PARENT_SCOPE)
endfunction()

function(tidemark_bpf_object name src)
  cmake_parse_arguments(B "" "" "DEPENDS" ${ARGN})
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    set(arch x86)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    set(arch arm64)
  else()
    set(arch ${CMAKE_SYSTEM_PROCESSOR})
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/skel)
  set(obj ${out}/${name}.bpf.o)
  set(skel ${out}/${name}.skel.h)
  get_filename_component(src_dir ${src} DIRECTORY)
  add_custom_command(OUTPUT ${skel}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
    COMMAND ${TIDEMARK_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_${arch}
            -I${CMAKE_BINARY_DIR}/ebpf/vmlinux -I${src_dir} ${LIBBPF_CFLAGS} -c ${src} -o ${obj}
    COMMAND ${TIDEMARK_LLVM_STRIP} -g ${obj}
    COMMAND ${TIDEMARK_BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${src} ${B_DEPENDS} ${CMAKE_BINARY_DIR}/ebpf/vmlinux/vmlinux.h
    COMMENT "BPF ${name}: clang -target bpf, llvm-strip, bpftool gen skeleton"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out})
endfunction()
