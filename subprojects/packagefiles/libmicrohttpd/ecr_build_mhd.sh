#!/bin/sh
# Build libmicrohttpd's static library without TLS with the tarball's own
# configure and make, then rename every global symbol it defines (MHD_x ->
# ecr__mhd_x, anything else y -> ecr__mhd_y), so that it can never collide with
# the system's libmicrohttpd in the same process (the tests, a TLS server's
# dlopen()ed libmicrohttpd.so.12).
#
#   ecr_build_mhd.sh SRCDIR WORKDIR OUTPUT.a NM OBJCOPY CC...
set -eu
src=$1
work=$2
out=$3
nm=$4
objcopy=$5
shift 5
cc="$*"
case $out in
/*) ;;
*) out=$(pwd)/$out ;;
esac

rm -rf "$work"
mkdir -p "$work"
cd "$work"

# Debian's hardening flags (dpkg-buildflags: -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2); no TLS,
# no tests, docs or examples; a static, position-independent library for libecr.so and libecr.a.
if ! "$src/configure" --disable-https --without-gnutls --disable-curl --disable-doc --disable-examples \
	--disable-nls --enable-static --disable-shared --with-pic \
	CC="$cc" CFLAGS="-O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wformat -Werror=format-security" \
	CPPFLAGS="" LDFLAGS="" >configure.log 2>&1; then
	tail -n 40 configure.log >&2
	echo "libmicrohttpd: configure failed (log: $work/configure.log)" >&2
	exit 1
fi
if grep -q '^#define HTTPS_SUPPORT 1' MHD_config.h; then
	echo "libmicrohttpd: configure enabled HTTPS although asked not to" >&2
	exit 1
fi
jobs=$(nproc 2>/dev/null || echo 2)
if ! make -C src/microhttpd -j"$jobs" libmicrohttpd.la >make.log 2>&1; then
	tail -n 40 make.log >&2
	echo "libmicrohttpd: make failed (log: $work/make.log)" >&2
	exit 1
fi
lib=src/microhttpd/.libs/libmicrohttpd.a

# Global symbols the archive defines (uppercase type letters; nm -g leaves out the locals).
"$nm" --defined-only -g "$lib" | awk 'NF == 3 && $2 ~ /^[A-Z]$/ { print $3 }' | sort -u |
	awk '{ n = $1; if (substr(n, 1, 4) == "MHD_") r = "ecr__mhd_" substr(n, 5); else r = "ecr__mhd_" n; print n, r }' \
	>redefine.syms
if ! grep -q '^MHD_start_daemon ecr__mhd_start_daemon$' redefine.syms; then
	echo "libmicrohttpd: no MHD_start_daemon in $lib" >&2
	exit 1
fi
"$objcopy" --redefine-syms=redefine.syms "$lib" "$out.tmp"
left=$("$nm" --defined-only -g "$out.tmp" | awk 'NF == 3 && $2 ~ /^[A-Z]$/ && $3 !~ /^ecr__mhd_/ { print $3 }')
if [ -n "$left" ]; then
	echo "libmicrohttpd: symbols left unrenamed: $left" >&2
	exit 1
fi
mv "$out.tmp" "$out"
