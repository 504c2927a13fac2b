# Shared by bin/qmpx and bin/test: find a JDK >= 25, install QEMU when absent. Sourced, not run.

qmpx_java_version() { # major version of the java binary $1, or nothing
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p'
}

# Sets JAVA_HOME to a JDK 25 or later (JAVA_HOME first, then /usr/lib/jvm), or exits with a clear error.
qmpx_require_jdk() {
  local candidate v
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*25* /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
    v=$(qmpx_java_version "$candidate/bin/java")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then
      export JAVA_HOME="$candidate"
      return 0
    fi
  done
  echo "qmpx: needs a JDK 25 or later. Set JAVA_HOME to one (e.g. /usr/lib/jvm/temurin-25-jdk-amd64)," >&2
  echo "      or install one under /usr/lib/jvm. JAVA_HOME=${JAVA_HOME:-unset}; java on PATH: $(command -v java || echo none)" >&2
  exit 1
}

qmpx_require_maven() {
  if ! command -v mvn >/dev/null; then
    echo "qmpx: Maven (mvn) is not installed. As root: apt-get install maven" >&2
    exit 1
  fi
  # Maven's bundled Guava calls sun.misc.Unsafe; JDK 25 warns about it on every run.
  export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
}

# Installs QEMU from Debian's packages when qemu-system-x86_64 is missing (root only).
qmpx_require_qemu() {
  command -v qemu-system-x86_64 >/dev/null && command -v qemu-img >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "qmpx: installing QEMU from Debian's packages (qemu-system-x86 qemu-utils)..." >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-system-x86 qemu-utils >&2
  else
    echo "qmpx: qemu-system-x86_64 is not installed. As root: apt-get install --no-install-recommends qemu-system-x86 qemu-utils" >&2
    exit 1
  fi
}
