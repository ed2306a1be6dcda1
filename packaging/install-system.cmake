# Runs at install time (install(SCRIPT)): the example pipeline and the
# systemd unit, placed by the prefix being installed to, as GNUInstallDirs
# places sysconfdir, but decided now rather than at configure time:
#   prefix /usr (the Debian package; CPack installs with it) -> /etc/flowline,
#                                                     /lib/systemd/system
#   any other prefix P (/usr/local, /opt/x, a test)  -> P/etc/flowline,
#                                                     P/lib/systemd/system
# so nothing is ever written outside the prefix (and DESTDIR).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc /etc/flowline)
  set(unitdir /lib/systemd/system)
else()
  set(etc ${CMAKE_INSTALL_PREFIX}/etc/flowline)
  set(unitdir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()
if(IS_ABSOLUTE "${FL_INSTALL_BINDIR}")
  set(FL_BINARY ${FL_INSTALL_BINDIR}/flowline)
else()
  set(FL_BINARY ${CMAKE_INSTALL_PREFIX}/${FL_INSTALL_BINDIR}/flowline)
endif()
set(FL_CONFDIR ${etc})

configure_file(${FL_PACKAGING_SRC}/systemd/flowline@.service.in
               ${FL_PACKAGING_BIN}/flowline@.service @ONLY)
file(INSTALL ${FL_PACKAGING_BIN}/flowline@.service DESTINATION ${unitdir})

# An edited example is configuration: a later `cmake --install` keeps it
# (in the package, dpkg's conffile handling does the same).
if(EXISTS "$ENV{DESTDIR}${etc}/example.yaml")
  message(STATUS "Keeping: $ENV{DESTDIR}${etc}/example.yaml")
else()
  file(INSTALL ${FL_PACKAGING_SRC}/etc/example.yaml DESTINATION ${etc})
endif()
