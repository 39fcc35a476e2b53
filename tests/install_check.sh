#!/usr/bin/env bash
# `make install` delivers what it promises: the three programs, the header,
# the library (shared and static), a pkg-config file that compiles and links
# a program against libgossip, and the man pages.
set -euo pipefail
: "${GOSSIP_BUILD_DIR:?set by ctest}"
prefix=$(mktemp -d /tmp/gossip-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT

cmake --install "$GOSSIP_BUILD_DIR" --prefix "$prefix" >/dev/null
libdir=$(sed -n 's/^libdir=\${prefix}\///p' "$GOSSIP_BUILD_DIR/gossip.pc")
for f in bin/gossipd bin/gossipctl bin/gossip-sim include/gossip/gossip.h \
         "$libdir/libgossip.a" "$libdir/libgossip.so" "$libdir/pkgconfig/gossip.pc" \
         share/man/man8/gossipd.8 share/man/man1/gossipctl.1 share/man/man1/gossip-sim.1; do
    [ -e "$prefix/$f" ] || { echo "FAIL: make install did not install $f"; exit 1; }
done
for p in gossipd gossipctl gossip-sim; do
    "$prefix/bin/$p" --help >/dev/null || { echo "FAIL: installed $p --help failed"; exit 1; }
done

# A program built only from what was installed, found through pkg-config.
cat > "$prefix/embed.c" <<'C'
#include <gossip/gossip.h>
#include <stdio.h>
#include <string.h>
static int sent;
static void send_cb(void *ud, const char *addr, const unsigned char *buf, size_t len) { sent++; }
int main(void)
{
    gossip_config cfg;
    gossip_config_init(&cfg);
    cfg.name = "embedded";
    cfg.addr = "127.0.0.1:1";
    gossip_callbacks cb = {GOSSIP_CALLBACKS_VERSION, send_cb, NULL, NULL};
    gossip_node *n;
    if (gossip_node_new(&n, &cfg, &cb, NULL) != 0) return 1;
    if (gossip_node_add_seed(n, "127.0.0.1:2") != 0) return 2;
    gossip_node_tick(n, 1);
    int ok = sent > 0 && gossip_node_member_count(n) == 1 &&
             strcmp(gossip_strerror(GOSSIP_ERR_FULL), "unknown error") != 0;
    gossip_node_free(n);
    printf("embedded node sent %d datagram(s)\n", sent);
    return ok ? 0 : 3;
}
C
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
cc=${GOSSIP_CC:-cc}
san=()
# The sanitizer build's library needs the sanitizer runtime in the program.
[ "${GOSSIP_SANITIZE:-OFF}" = ON ] && san=(-fsanitize=address,undefined)
# shellcheck disable=SC2046
"$cc" "${san[@]}" -std=c11 -o "$prefix/embed-static" "$prefix/embed.c" $(pkg-config --cflags gossip) \
   "$prefix/$libdir/libgossip.a" -lm
"$prefix/embed-static"
# shellcheck disable=SC2046
"$cc" "${san[@]}" -std=c11 -o "$prefix/embed-shared" "$prefix/embed.c" $(pkg-config --cflags --libs gossip)
LD_LIBRARY_PATH="$prefix/$libdir" "$prefix/embed-shared"
echo "install: programs, header, static + shared library, pkg-config, man pages: ok"
