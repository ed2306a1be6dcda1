# fl_add_plugin(NAME <name> KIND <kind> SOURCES <files...> [LIBS <targets...>])
#
# Builds plugins/<kind>/<name> into flowline-<kind>-<name>.so in the build's
# plugins/ directory, linked against libflowline only (plus LIBS), and installs
# it into the plugin install dir. Built-in plugins use the same ABI as
# third-party ones: nothing here is special to them.
function(fl_add_plugin)
  cmake_parse_arguments(P "" "NAME;KIND" "SOURCES;LIBS" ${ARGN})
  set(target flowline-${P_KIND}-${P_NAME})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${FL_PLUGIN_BUILD_DIR})
  target_link_libraries(${target} PRIVATE flowline_core ${P_LIBS})
  add_dependencies(fl_plugins ${target})
  # Relative to the prefix given at install time (cmake --install --prefix,
  # CPack), like the library; the loader finds it relative to the binary.
  install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/flowline/plugins)
endfunction()
