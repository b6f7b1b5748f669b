# `make package` (cpack -G DEB): one Debian package, `sluice`, with
#   /usr/bin/{sluiced,sluice-sim,sluice-load}
#   /usr/lib/systemd/system/sluiced.service          (examples/systemd, not enabled on install)
#   /etc/sluice/sluiced.yaml                         (a conffile: upgrades keep local edits)
#   /usr/include/sluice, the static engine and its CMake package (find_package(sluice))
#   /usr/lib/libsluice.so.1, libsluice.a, pkgconfig/sluice.pc  (the C ABI, sluice/c.h)
#   /usr/share/doc/sluice                            (README, config reference, examples)
# The unit and the /etc file are their own component, left out of a plain `cmake --install`
# (which may target any prefix: /etc is absolute) and put in only by CPack.

install(FILES examples/systemd/sluiced.service
  DESTINATION lib/systemd/system COMPONENT deploy EXCLUDE_FROM_ALL)
install(FILES examples/systemd/sluiced.yaml
  DESTINATION /etc/sluice COMPONENT deploy EXCLUDE_FROM_ALL)
install(FILES README.md SECURITY.md PERF.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT deploy EXCLUDE_FROM_ALL)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT deploy EXCLUDE_FROM_ALL)
install(DIRECTORY examples/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
  COMPONENT deploy EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VENDOR "sluice developers")
set(CPACK_PACKAGE_CONTACT "sluice developers <security@sluice.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "lock-free GCRA rate limiter: io_uring edge server and C++ engine")
set(CPACK_PACKAGE_DESCRIPTION
  "sluiced answers rate-limit decisions over HTTP/1.1 in microseconds (shard per core,\n\
io_uring), for nginx auth_request, Envoy ext_authz or Traefik forwardAuth, or on its own.\n\
The package also holds the embeddable engine (headers, static library, CMake package),\n\
sluice-sim (the algorithm lab) and sluice-load (a load generator).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_COMPONENTS_ALL Unspecified deploy)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Debug info stays in the build tree; the package carries stripped binaries.
set(CPACK_STRIP_FILES ON)
# Embedding the engine needs abseil's headers and a compiler; running sluiced does not.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libabsl-dev, cmake, g++")
configure_file(${CMAKE_CURRENT_LIST_DIR}/deb-conffiles ${CMAKE_CURRENT_BINARY_DIR}/deb/conffiles COPYONLY)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_BINARY_DIR}/deb/conffiles)
include(CPack)
