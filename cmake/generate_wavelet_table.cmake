# Writes the embedded wavelet filter table (src/common/wavelet_table.cpp) from pywt's coefficients
# in tests/golden/wavelets.json. Run (from the repository root):
#   cmake -DJSON=tests/golden/wavelets.json -DOUT=src/common/wavelet_table.cpp \
#       -P cmake/generate_wavelet_table.cmake
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED JSON OR NOT DEFINED OUT)
  message(FATAL_ERROR
    "usage: cmake -DJSON=<wavelets.json> -DOUT=<wavelet_table.cpp> -P generate_wavelet_table.cmake")
endif()

set(filters dec_lo dec_hi rec_lo rec_hi)
set(filter_suffixes DecLo DecHi RecLo RecHi)

file(READ "${JSON}" text)

# CMake's JSON parser validates the file and checks the text scan below; its numbers cannot be
# used for the table, because string(JSON GET) re-formats them (0.1 comes back as
# 0.10000000000000001).
string(JSON wavelet_count ERROR_VARIABLE json_error LENGTH "${text}")
if(json_error)
  message(FATAL_ERROR "${JSON}: not valid JSON: ${json_error}")
endif()

# The numbers are taken as text, so the doubles the compiler reads are exactly the ones strtod
# reads from the JSON. Square brackets are renamed first: inside a CMake list element an
# unbalanced '[' would stop the list from splitting at ';'.
string(REPLACE "[" "<" scan "${text}")
string(REPLACE "]" ">" scan "${scan}")
string(REGEX MATCHALL "\"[^\"]*\"|-?[0-9][0-9.eE+-]*|[{}<>]" tokens "${scan}")

set(depth 0)
set(wavelet "")
set(filter "")
set(scanned_names "")
foreach(token IN LISTS tokens)
  if(token STREQUAL "{" OR token STREQUAL "<")
    math(EXPR depth "${depth} + 1")
  elseif(token STREQUAL "}" OR token STREQUAL ">")
    math(EXPR depth "${depth} - 1")
  elseif(token MATCHES "^\"(.*)\"$")
    if(depth EQUAL 1)
      set(wavelet "${CMAKE_MATCH_1}")
      list(APPEND scanned_names "${wavelet}")
    elseif(depth EQUAL 2)
      set(filter "${CMAKE_MATCH_1}")
      if(NOT filter IN_LIST filters)
        message(FATAL_ERROR "${JSON}: ${wavelet} has an unexpected member \"${filter}\"")
      endif()
      set(count_${wavelet}_${filter} 0)
      set(values_${wavelet}_${filter} "")
    else()
      message(FATAL_ERROR "${JSON}: unexpected string ${token} at depth ${depth}")
    endif()
  else()
    if(NOT depth EQUAL 3)
      message(FATAL_ERROR "${JSON}: unexpected number ${token} at depth ${depth}")
    endif()
    # A bare integer would be an int literal in C++, and "-0" would lose its sign.
    if(token MATCHES "^-?[0-9]+$")
      string(APPEND token ".0")
    endif()
    list(APPEND values_${wavelet}_${filter} "${token}")
    math(EXPR count_${wavelet}_${filter} "${count_${wavelet}_${filter}} + 1")
  endif()
endforeach()

# Each wavelet once, and as many as the parser counts; the GET below checks each is a member.
set(names ${scanned_names})
list(REMOVE_DUPLICATES names)
list(LENGTH names n)
list(LENGTH scanned_names scanned_count)
if(NOT n EQUAL scanned_count OR NOT n EQUAL wavelet_count)
  message(FATAL_ERROR "${JSON}: the text scan found ${scanned_count} names, the parser ${wavelet_count}")
endif()
foreach(name IN LISTS names)
  if(NOT name MATCHES "^[a-z][a-z0-9.]*$")
    message(FATAL_ERROR "${JSON}: unexpected wavelet name \"${name}\"")
  endif()
endforeach()
# Plain byte-wise order, the order find_wavelet's binary search over std::string_view expects.
list(SORT names COMPARE STRING CASE SENSITIVE ORDER ASCENDING)

# Every number taken as text is checked against CMake's parse of the same position (if(EQUAL)
# compares as doubles), so a slip in the scan cannot put a wrong value in the table unnoticed.
foreach(name IN LISTS names)
  string(JSON object ERROR_VARIABLE json_error GET "${text}" "${name}")
  if(json_error)
    message(FATAL_ERROR "${JSON}: scanned name ${name}: ${json_error}")
  endif()
  set(length "")
  foreach(filter IN LISTS filters)
    string(JSON n ERROR_VARIABLE json_error LENGTH "${object}" "${filter}")
    if(json_error)
      message(FATAL_ERROR "${JSON}: ${name}.${filter}: ${json_error}")
    endif()
    if(NOT n EQUAL count_${name}_${filter})
      message(FATAL_ERROR "${JSON}: ${name}.${filter}: scanned ${count_${name}_${filter}} of ${n} values")
    endif()
    # One GET per array (not per number) keeps the script fast; CMake writes the parsed numbers
    # back with 17 significant digits, which is enough to tell any two doubles apart.
    string(JSON array GET "${object}" "${filter}")
    string(REGEX MATCHALL "-?[0-9][0-9.eE+-]*" parsed_values "${array}")
    foreach(value parsed IN ZIP_LISTS values_${name}_${filter} parsed_values)
      if(NOT value EQUAL parsed)
        message(FATAL_ERROR "${JSON}: ${name}.${filter}: scanned ${value}, parsed ${parsed}")
      endif()
    endforeach()
    if(length STREQUAL "")
      set(length ${n})
    elseif(NOT n EQUAL length)
      message(FATAL_ERROR "${JSON}: ${name}: filters of different lengths")
    endif()
  endforeach()
  math(EXPR odd "${length} % 2")
  if(length EQUAL 0 OR odd)
    message(FATAL_ERROR "${JSON}: ${name}: filter length ${length} is not even and positive")
  endif()
  set(length_${name} ${length})
endforeach()

# The header names the paths relative to the repository root when they lie inside it, so the
# committed file does not depend on where the command was run from.
get_filename_component(repo_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
get_filename_component(json_abs "${JSON}" ABSOLUTE)
get_filename_component(out_abs "${OUT}" ABSOLUTE)
foreach(var json out)
  file(RELATIVE_PATH rel "${repo_root}" "${${var}_abs}")
  if(rel MATCHES "^\\.\\./")
    set(${var}_shown "${${var}_abs}")
  else()
    set(${var}_shown "${rel}")
  endif()
endforeach()

set(arrays "")
set(entries "")
foreach(name IN LISTS names)
  # bior1.1 -> kBior1_1DecLo ... (the names are lower-case letters, digits and dots)
  string(REPLACE "." "_" id "${name}")
  string(SUBSTRING "${id}" 0 1 first)
  string(TOUPPER "${first}" first)
  string(SUBSTRING "${id}" 1 -1 rest)
  set(id "k${first}${rest}")
  set(refs "")
  foreach(filter suffix IN ZIP_LISTS filters filter_suffixes)
    list(JOIN values_${name}_${filter} ", " joined)
    string(APPEND arrays "constexpr double ${id}${suffix}[] = {${joined}};\n")
    string(APPEND refs ", ${id}${suffix}")
  endforeach()
  string(APPEND entries "    {\"${name}\", ${length_${name}}${refs}},\n")
endforeach()

set(content "// GENERATED FILE, do not edit: pywt 1.1.1's discrete wavelet filters as exact doubles, written
// from ${json_shown} by cmake/generate_wavelet_table.cmake. Regenerate it, from the
// repository root, with the one-line command (fenced so that clang-format does not wrap it):
// clang-format off
//   cmake -DJSON=${json_shown} -DOUT=${out_shown} -P cmake/generate_wavelet_table.cmake
// clang-format on
#include <algorithm>
#include <string_view>

#include \"common/wavelet_filters.h\"

namespace wtconv::detail {

namespace {

// The numbers are pywt's text copied verbatim (-0.0 included), so each literal is the same
// double that strtod reads from the JSON.
// clang-format off
${arrays}
// Sorted by name in byte-wise order, which find_wavelet's binary search relies on.
constexpr WaveletTaps kTable[] = {
${entries}};
// clang-format on

constexpr int kTableSize = static_cast<int>(sizeof(kTable) / sizeof(kTable[0]));

}  // namespace

const WaveletTaps* wavelet_table() {
    return kTable;
}

int wavelet_table_size() {
    return kTableSize;
}

const WaveletTaps* find_wavelet(std::string_view name) {
    const WaveletTaps* const end = kTable + kTableSize;
    const WaveletTaps* const it = std::lower_bound(
        kTable, end, name,
        [](const WaveletTaps& entry, std::string_view key) { return entry.name < key; });
    return (it != end && it->name == name) ? it : nullptr;
}

}  // namespace wtconv::detail
")

# Written only when it changes, so a build that runs this script does not recompile for nothing.
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUT}" "${content}")
endif()
list(LENGTH names n)
message(STATUS "wavelet table: ${n} wavelets from ${JSON} -> ${OUT}")
