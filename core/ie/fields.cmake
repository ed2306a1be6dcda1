# core/ie/fields.cmake: turns the field registry data (iana.tsv, fields.tsv)
# into C tables at configure time: ${CMAKE_BINARY_DIR}/generated/fields_table.c,
# shaped as core/ie/fields_table.h says, and sets FL_IE_GENERATED to it.
#
# Done in the CMake language so the build needs no host tool and no
# libfixbuf (iana.tsv is committed; core/ie/regen.c only refreshes it). The
# TSVs are configure dependencies: editing either re-runs CMake, and the C
# file is rewritten only when its text changes, so nothing else rebuilds.
# Every rule a lookup relies on (unique names, ids sorted, known types and
# IANA names) is checked here, so a bad edit fails the configure, not a run.

set(_flie_dir ${CMAKE_CURRENT_LIST_DIR})
set(_flie_out ${CMAKE_BINARY_DIR}/generated/fields_table.c)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${_flie_dir}/iana.tsv ${_flie_dir}/fields.tsv)

# CMake lists split on ';' and treat brackets specially, and the text lands
# in C string literals, so those characters are refused outright.
function(_flie_check_text file text)
  if(text MATCHES "[][;\"\\\\]")
    message(FATAL_ERROR "${file}: characters ; [ ] \" \\ are not allowed: ${text}")
  endif()
endfunction()

# IPFIX abstract data type -> flowline column type for IANA elements that no
# short name maps. Signed integers widen to i64 and floats to f64 (flowline
# has one of each); every dateTime* becomes a ts in ns; structured lists stay
# their encoded bytes.
function(_flie_atype_to_fl atype out)
  if(atype MATCHES "^unsigned(8|16|32|64)$")
    set(t FL_T_U${CMAKE_MATCH_1})
  elseif(atype MATCHES "^signed(8|16|32|64)$")
    set(t FL_T_I64)
  elseif(atype MATCHES "^float(32|64)$")
    set(t FL_T_F64)
  elseif(atype STREQUAL "boolean")
    set(t FL_T_BOOL)
  elseif(atype STREQUAL "macAddress")
    set(t FL_T_MAC)
  elseif(atype STREQUAL "string")
    set(t FL_T_STR)
  elseif(atype MATCHES "^dateTime(Seconds|Milliseconds|Microseconds|Nanoseconds)$")
    set(t FL_T_TS)
  elseif(atype MATCHES "^ipv[46]Address$")
    set(t FL_T_ADDR)
  elseif(atype MATCHES "^(octetArray|basicList|subTemplateList|subTemplateMultiList)$")
    set(t FL_T_BYTES)
  else()
    message(FATAL_ERROR "iana.tsv: unknown abstract data type '${atype}'")
  endif()
  set(${out} ${t} PARENT_SCOPE)
endfunction()

# ---- iana.tsv: id name type units reversible, sorted by id -------------
file(STRINGS ${_flie_dir}/iana.tsv _flie_lines ENCODING UTF-8)
set(_flie_niana 0)
set(_flie_prev_id -1)
set(_flie_iana_rows "")
set(_flie_iana_fields "")
foreach(_line IN LISTS _flie_lines)
  if(_line STREQUAL "" OR _line MATCHES "^#")
    continue()
  endif()
  _flie_check_text(iana.tsv "${_line}")
  # A regex, not a list split: units is often empty, and how lists treat
  # empty elements depends on policy CMP0007.
  if(NOT _line MATCHES "^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$")
    message(FATAL_ERROR "iana.tsv: expected 5 tab-separated columns: ${_line}")
  endif()
  set(_id "${CMAKE_MATCH_1}")
  set(_name "${CMAKE_MATCH_2}")
  set(_atype "${CMAKE_MATCH_3}")
  set(_units "${CMAKE_MATCH_4}")
  set(_rev "${CMAKE_MATCH_5}")
  if(NOT _id MATCHES "^[0-9]+$" OR _id GREATER 65535 OR NOT _id GREATER _flie_prev_id)
    message(FATAL_ERROR "iana.tsv: ids must be unique, ascending, 0..65535: ${_line}")
  endif()
  if(NOT _name MATCHES "^[A-Za-z][A-Za-z0-9_]*$" OR DEFINED _flie_iana_id_${_name})
    message(FATAL_ERROR "iana.tsv: bad or duplicate name '${_name}'")
  endif()
  if(_rev STREQUAL "yes")
    set(_rev true)
  elseif(_rev STREQUAL "no")
    set(_rev false)
  else()
    message(FATAL_ERROR "iana.tsv: reversible must be yes or no: ${_line}")
  endif()
  _flie_atype_to_fl(${_atype} _flt)
  set(_flie_prev_id ${_id})
  set(_flie_iana_id_${_name} ${_id})
  set(_flie_iana_idx_${_name} ${_flie_niana})
  list(APPEND _flie_iana_names ${_name})
  set(_units_doc "")
  if(NOT _units STREQUAL "")
    set(_units_doc ", ${_units}")
  endif()
  string(APPEND _flie_iana_fields
    "    { \"${_name}\", ${_flt}, 0, ${_id}, 0, \"IANA IPFIX element ${_id} (${_atype}${_units_doc})\" },\n")
  # The field pointer is filled in once fields.tsv says who maps what.
  set(_flie_iana_row_${_flie_niana} "${_id}, ${_rev}, \"${_name}\", \"${_atype}\", \"${_units}\"")
  math(EXPR _flie_niana "${_flie_niana} + 1")
endforeach()
if(_flie_niana EQUAL 0)
  message(FATAL_ERROR "iana.tsv: no elements")
endif()

# ---- fields.tsv: name type iana fl_id aliases doc ----------------------
set(_flie_types u8 u16 u32 u64 i64 f64 bool ts dur addr mac str bytes)
file(STRINGS ${_flie_dir}/fields.tsv _flie_lines ENCODING UTF-8)
set(_flie_nfields 0)
set(_flie_fields "")
set(_flie_index "")     # "name target" pairs; a space sorts before any name char
set(_flie_suggest "")
set(_flie_aliases "")

# Claim `name` for `target` (F<k>: fl_ie_fields[k], I<j>: fl_ie_iana_fields[j];
# tokens, not C text, to keep brackets out of CMake lists): each accepted
# name means exactly one field.
macro(_flie_claim name target what)
  if(DEFINED _flie_seen_${name})
    message(FATAL_ERROR "fields.tsv: ${what} '${name}' is already taken (${_flie_seen_${name}})")
  endif()
  set(_flie_seen_${name} "${what}")
  list(APPEND _flie_index "${name} ${target}")
endmacro()

function(_flie_target_c token out)
  if(token MATCHES "^F([0-9]+)$")
    set(${out} "&fl_ie_fields[${CMAKE_MATCH_1}]" PARENT_SCOPE)
  else()
    string(SUBSTRING ${token} 1 -1 j)
    set(${out} "&fl_ie_iana_fields[${j}]" PARENT_SCOPE)
  endif()
endfunction()

foreach(_line IN LISTS _flie_lines)
  if(_line STREQUAL "" OR _line MATCHES "^#")
    continue()
  endif()
  _flie_check_text(fields.tsv "${_line}")
  if(NOT _line MATCHES "^([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)$")
    message(FATAL_ERROR "fields.tsv: expected 6 non-empty tab-separated columns: ${_line}")
  endif()
  set(_name "${CMAKE_MATCH_1}")
  set(_type "${CMAKE_MATCH_2}")
  set(_iana "${CMAKE_MATCH_3}")
  set(_flid "${CMAKE_MATCH_4}")
  set(_aliases "${CMAKE_MATCH_5}")
  set(_doc "${CMAKE_MATCH_6}")
  if(NOT _name MATCHES "^[a-z][a-z0-9_]*$")
    message(FATAL_ERROR "fields.tsv: name must be snake_case: '${_name}'")
  endif()
  if(NOT _type IN_LIST _flie_types)
    message(FATAL_ERROR "fields.tsv: ${_name}: unknown type '${_type}'")
  endif()
  string(TOUPPER ${_type} _T)
  set(_target F${_flie_nfields})
  _flie_claim(${_name} "${_target}" "field")
  list(APPEND _flie_suggest ${_name})

  if(_iana STREQUAL "-")
    # flowline's own element: an id under FL_PEN, unique, 15 bits
    # (RFC 7011 §3.2: the top bit of the element id is the enterprise bit).
    if(NOT _flid MATCHES "^[0-9]+$" OR _flid LESS 1 OR _flid GREATER 32767)
      message(FATAL_ERROR "fields.tsv: ${_name}: own field needs fl_id 1..32767, got '${_flid}'")
    endif()
    if(DEFINED _flie_flid_${_flid})
      message(FATAL_ERROR "fields.tsv: ${_name}: fl_id ${_flid} already used by ${_flie_flid_${_flid}}")
    endif()
    set(_flie_flid_${_flid} ${_name})
    set(_pen FL_PEN)
    set(_ie ${_flid})
    set(_ie_alt 0)
  else()
    if(NOT _flid STREQUAL "-")
      message(FATAL_ERROR "fields.tsv: ${_name}: an IANA-mapped field has fl_id -")
    endif()
    string(REPLACE "," ";" _ielist "${_iana}")
    list(LENGTH _ielist _nie)
    if(_nie GREATER 2)
      message(FATAL_ERROR "fields.tsv: ${_name}: at most two IANA elements (ie, ie_alt)")
    endif()
    set(_pen 0)
    set(_ie_alt 0)
    set(_k 0)
    foreach(_e IN LISTS _ielist)
      if(NOT DEFINED _flie_iana_id_${_e})
        message(FATAL_ERROR "fields.tsv: ${_name}: '${_e}' is not in iana.tsv")
      endif()
      if(DEFINED _flie_mapped_${_e})
        message(FATAL_ERROR "fields.tsv: ${_name}: ${_e} is already mapped by ${_flie_mapped_${_e}}")
      endif()
      set(_flie_mapped_${_e} ${_name})
      set(_flie_map_target_${_e} "${_target}")
      if(_k EQUAL 0)
        set(_ie ${_flie_iana_id_${_e}})
      else()
        set(_ie_alt ${_flie_iana_id_${_e}})
      endif()
      math(EXPR _k "${_k} + 1")
    endforeach()
  endif()

  if(NOT _aliases STREQUAL "-")
    string(REPLACE "," ";" _alist "${_aliases}")
    foreach(_a IN LISTS _alist)
      if(NOT _a MATCHES "^[a-z][a-z0-9_]*$")
        message(FATAL_ERROR "fields.tsv: ${_name}: alias must be snake_case: '${_a}'")
      endif()
      _flie_claim(${_a} "${_target}" "alias of ${_name}")
      list(APPEND _flie_aliases ${_a})
    endforeach()
  endif()

  string(APPEND _flie_fields
    "    { \"${_name}\", FL_T_${_T}, ${_pen}, ${_ie}, ${_ie_alt}, \"${_doc}\" },\n")
  math(EXPR _flie_nfields "${_flie_nfields} + 1")
endforeach()
list(APPEND _flie_suggest ${_flie_aliases})

# ---- IANA names: a mapped element means its short field ----------------
set(_flie_iana_rows_c "")
set(_j 0)
foreach(_name IN LISTS _flie_iana_names)
  if(DEFINED _flie_map_target_${_name})
    set(_target "${_flie_map_target_${_name}}")
  else()
    set(_target I${_j})
  endif()
  _flie_claim(${_name} "${_target}" "IANA name")
  _flie_target_c(${_target} _tc)
  string(APPEND _flie_iana_rows_c "    { ${_flie_iana_row_${_j}}, ${_tc} },\n")
  math(EXPR _j "${_j} + 1")
endforeach()

# Byte-wise sort, the order strcmp() gives, so field.c can binary-search.
list(SORT _flie_index COMPARE STRING CASE SENSITIVE)
set(_flie_index_c "")
foreach(_e IN LISTS _flie_index)
  string(REPLACE " " ";" _p "${_e}")
  list(GET _p 0 _n)
  list(GET _p 1 _t)
  _flie_target_c(${_t} _tc)
  string(APPEND _flie_index_c "    { \"${_n}\", ${_tc} },\n")
endforeach()
list(LENGTH _flie_index _flie_nnames)

set(_flie_iana_names_c "")
foreach(_n IN LISTS _flie_iana_names)
  string(APPEND _flie_iana_names_c "    \"${_n}\",\n")
endforeach()

set(_flie_suggest_c "")
foreach(_n IN LISTS _flie_suggest)
  string(APPEND _flie_suggest_c "    \"${_n}\",\n")
endforeach()

set(_flie_c
"/* fields_table.c: GENERATED by core/ie/fields.cmake from core/ie/fields.tsv
 * and core/ie/iana.tsv at configure time. Do not edit; edit the TSVs. */
#include \"${_flie_dir}/fields_table.h\"

const struct fl_field fl_ie_fields[] = {
${_flie_fields}};
const size_t fl_ie_nfields = ${_flie_nfields};

const struct fl_field fl_ie_iana_fields[] = {
${_flie_iana_fields}};

const struct fl_ie_iana fl_ie_iana[] = {
${_flie_iana_rows_c}};
const size_t fl_ie_niana = ${_flie_niana};

const char *const fl_ie_iana_names[] = {
${_flie_iana_names_c}};

const struct fl_ie_name fl_ie_names[] = {
${_flie_index_c}};
const size_t fl_ie_nnames = ${_flie_nnames};

const char *const fl_ie_suggest_names[] = {
${_flie_suggest_c}};
const size_t fl_ie_nsuggest = sizeof fl_ie_suggest_names / sizeof fl_ie_suggest_names[0];
")
# Rewrite only on change, so an unrelated reconfigure recompiles nothing.
set(_flie_old "")
if(EXISTS ${_flie_out})
  file(READ ${_flie_out} _flie_old)
endif()
if(NOT _flie_old STREQUAL _flie_c)
  file(WRITE ${_flie_out} "${_flie_c}")
endif()
message(STATUS "Field registry: ${_flie_nfields} fields, ${_flie_niana} IANA elements, ${_flie_nnames} names")

set(FL_IE_GENERATED ${_flie_out})
