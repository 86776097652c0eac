# finesse_bpf_object(<name> SOURCE <x.bpf.c> [HEADERS <h>...] [INCLUDE_DIRS <dir>...])
#
# Compiles a CO-RE BPF program with clang (-g keeps the BTF that CO-RE relocations need),
# links it with `bpftool gen object` (which also drops the DWARF), and generates the libbpf
# skeleton <name>.skel.h (struct <name>_bpf, <name>_bpf__open() ...) with `bpftool gen skeleton`.
# Creates the INTERFACE library <name>_skel: linking it makes the skeleton and the program's
# own directory (for the shared x.h header of the x.bpf.c / x.cpp / x.h triplet) includable
# and pulls in libbpf. The BPF compile always sees bpf/include (finesse_kernel_types.h).

set(FINESSE_BPF_INCLUDE_DIR ${CMAKE_CURRENT_LIST_DIR}/../bpf/include)
cmake_path(NORMAL_PATH FINESSE_BPF_INCLUDE_DIR)

find_program(FINESSE_BPF_CLANG NAMES clang clang-14 DOC "clang able to target BPF")
find_program(FINESSE_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin /usr/local/sbin
  DOC "bpftool, for `gen object` and `gen skeleton`")

# __TARGET_ARCH_<arch> tells bpf_tracing.h which pt_regs layout to use.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(FINESSE_BPF_TARGET_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(FINESSE_BPF_TARGET_ARCH arm64)
else()
  set(FINESSE_BPF_TARGET_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

# With -target bpf clang drops the host's multiarch include dir, where <asm/types.h> (needed
# by <linux/types.h> and <linux/bpf.h>) lives on Debian.
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(FINESSE_BPF_ASM_INCLUDE_DIR /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
else()
  set(FINESSE_BPF_ASM_INCLUDE_DIR /usr/include/x86_64-linux-gnu)
endif()

function(finesse_bpf_object name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "SOURCE" "HEADERS;INCLUDE_DIRS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "finesse_bpf_object(${name}): unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_SOURCE)
    message(FATAL_ERROR "finesse_bpf_object(${name}): SOURCE <x.bpf.c> is required")
  endif()
  if(NOT FINESSE_BPF_CLANG)
    message(FATAL_ERROR "finesse_bpf_object: clang not found (install clang; or set FINESSE_BPF_CLANG)")
  endif()
  if(NOT FINESSE_BPFTOOL)
    message(FATAL_ERROR "finesse_bpf_object: bpftool not found (install bpftool, usually "
      "/usr/sbin/bpftool; or set FINESSE_BPFTOOL)")
  endif()
  if(NOT TARGET PkgConfig::LIBBPF)
    message(FATAL_ERROR "finesse_bpf_object: PkgConfig::LIBBPF missing; "
      "call pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf) first")
  endif()

  cmake_path(ABSOLUTE_PATH arg_SOURCE BASE_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    OUTPUT_VARIABLE source)
  if(NOT EXISTS ${source})
    message(FATAL_ERROR "finesse_bpf_object(${name}): SOURCE ${source} does not exist")
  endif()
  cmake_path(GET source PARENT_PATH source_dir)
  set(headers "")
  foreach(h IN LISTS arg_HEADERS)
    cmake_path(ABSOLUTE_PATH h BASE_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} OUTPUT_VARIABLE h)
    list(APPEND headers ${h})
  endforeach()
  set(include_flags -I${source_dir} -I${FINESSE_BPF_INCLUDE_DIR})
  foreach(dir IN LISTS arg_INCLUDE_DIRS)
    cmake_path(ABSOLUTE_PATH dir BASE_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} OUTPUT_VARIABLE dir)
    list(APPEND include_flags -I${dir})
  endforeach()
  list(APPEND include_flags -idirafter ${FINESSE_BPF_ASM_INCLUDE_DIR})

  set(obj_dir ${CMAKE_CURRENT_BINARY_DIR}/bpfobj)
  set(skel_dir ${CMAKE_CURRENT_BINARY_DIR}/skel)
  set(tmp_obj ${obj_dir}/${name}.tmp.bpf.o)
  set(obj ${obj_dir}/${name}.bpf.o)
  set(skel ${skel_dir}/${name}.skel.h)

  # The depfile catches every header the program includes; HEADERS/SOURCE are listed too so the
  # very first build (no depfile yet) and generators without depfile support still see them.
  add_custom_command(OUTPUT ${tmp_obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${obj_dir}
    COMMAND ${FINESSE_BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_${FINESSE_BPF_TARGET_ARCH}
      -Wall -Werror ${include_flags} -MD -MF ${tmp_obj}.d -c ${source} -o ${tmp_obj}
    DEPENDS ${source} ${headers}
    DEPFILE ${tmp_obj}.d
    COMMENT "BPF: compiling ${name} (${arg_SOURCE})"
    COMMAND_EXPAND_LISTS VERBATIM)
  add_custom_command(OUTPUT ${obj}
    COMMAND ${FINESSE_BPFTOOL} gen object ${obj} ${tmp_obj}
    DEPENDS ${tmp_obj}
    COMMENT "BPF: linking ${name}.bpf.o"
    VERBATIM)
  # Write to a temp file first so a failing bpftool never leaves a truncated header behind.
  add_custom_command(OUTPUT ${skel}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${skel_dir}
    COMMAND ${FINESSE_BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "BPF: generating ${name}.skel.h"
    VERBATIM)

  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  target_include_directories(${name}_skel INTERFACE ${skel_dir} ${source_dir})
  # Shared libbpf brings libelf/libz itself; a static libbpf would also need elf and z here.
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
  add_dependencies(${name}_skel ${name}_skel_gen)
  set_target_properties(${name}_skel PROPERTIES FINESSE_BPF_OBJECT ${obj})
endfunction()
